"""B3DB blood-brain-barrier data from the ``qc-b3db`` wheel (CC0): logBB values and BBB+/BBB- labels."""

from __future__ import annotations

import pandas as pd

from shared.package_data import package_dir


def regression() -> pd.DataFrame:
    """``smiles, logBB``."""
    frame = pd.read_csv(package_dir("B3DB") / "B3DB_regression.tsv", sep="\t")
    return frame.rename(columns={"SMILES": "smiles"})[["smiles", "logBB"]]


def classification() -> pd.DataFrame:
    """``smiles, BBB+`` (1.0 for BBB+, 0.0 for BBB-)."""
    frame = pd.read_csv(package_dir("B3DB") / "B3DB_classification.tsv", sep="\t")
    label = frame["BBB+/BBB-"].map({"BBB+": 1.0, "BBB-": 0.0})
    return pd.DataFrame({"smiles": frame["SMILES"], "BBB+": label})
