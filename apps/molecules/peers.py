"""Peers on exactly our splits: random forests on Morgan fingerprints and on RDKit 2D descriptors.

RDKit and scikit-learn are imported where they are used, so the config (which names the
peers) loads without them.
"""

from __future__ import annotations

import numpy as np

from shared.errors import ConfigError

PEERS = ("rf_morgan", "rf_descriptors")


def morgan(smiles: list[str], radius: int = 2, bits: int = 2048) -> np.ndarray:
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    out = np.zeros((len(smiles), bits), dtype=np.uint8)
    for i, smi in enumerate(smiles):
        DataStructs.ConvertToNumpyArray(gen.GetFingerprint(Chem.MolFromSmiles(smi)), out[i])
    return out


def descriptors(smiles: list[str]) -> np.ndarray:
    """Every RDKit 2D descriptor (the same values our graph model can read)."""
    from apps.molecules.featurize import descriptor_matrix

    return descriptor_matrix(smiles, workers=2)


def fit_predict_peer(name: str, task: str, train_smiles: list[str], y_train: np.ndarray, test_smiles: list[str],
                     seed: int, trees: int = 500, jobs: int = 2) -> np.ndarray:
    """Fit one peer per target column on the training rows (NaN targets skipped); predict ``[N_test, T]``."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    if name not in PEERS:
        raise ConfigError(f"unknown peer {name!r}; available: {', '.join(PEERS)}")
    featurise = morgan if name == "rf_morgan" else descriptors
    x_train, x_test = featurise(train_smiles), featurise(test_smiles)
    preds = []
    for t in range(y_train.shape[1]):
        keep = np.isfinite(y_train[:, t])
        if task == "regression":
            model = RandomForestRegressor(n_estimators=trees, random_state=seed, n_jobs=jobs)
            model.fit(x_train[keep], y_train[keep, t])
            preds.append(model.predict(x_test))
        else:
            model = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=jobs)
            model.fit(x_train[keep], y_train[keep, t].astype(int))
            preds.append(model.predict_proba(x_test)[:, 1])
    return np.stack(preds, axis=1)
