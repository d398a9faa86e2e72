"""Pictures of an evaluation: the best and worst predicted held-out molecules."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apps.molecules.data import SplitData
from apps.molecules.train import Fitted, model_inputs, predict


def molecule_grid(data: SplitData, fitted: Fitted, cache_dir: str | Path, path: Path, n: int = 6) -> Path | None:
    """RDKit grid of the ``n`` best and ``n`` worst predicted test molecules (first target; fewer when
    the test set is small, none when no test molecule has a known value)."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    test = data.frame[data.frame["split"] == "test"].reset_index(drop=True)
    pred = predict(fitted.model, model_inputs(fitted.model.cfg, test, data.targets, fitted.tokenizer, cache_dir))[:, 0]
    truth = test[data.targets[0]].to_numpy(dtype=np.float64)
    err = np.where(np.isfinite(truth), np.abs(pred - truth), -np.inf)  # unknown targets are neither best nor worst
    known = np.flatnonzero(np.isfinite(truth))
    order = known[np.argsort(err[known])]
    if not len(order):
        return None
    n = max(min(n, len(order) // 2), 1)
    picks = list(order[:n]) + list(order[-n:]) if len(order) > 1 else list(order)
    mols = [Chem.MolFromSmiles(test.loc[i, "smiles"]) for i in picks]
    legends = [f"{'best' if k < n else 'worst'}: true {truth[i]:.2f} pred {pred[i]:.2f}" for k, i in enumerate(picks)]
    Draw.MolsToGridImage(mols, molsPerRow=n, subImgSize=(220, 180), legends=legends).save(path)
    return path
