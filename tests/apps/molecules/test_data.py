"""Shipped molecular datasets, cleaning, and deterministic splits."""

import numpy as np
import pandas as pd
import pytest

from apps.molecules.data import clean, random_split, scaffold, scaffold_split
from apps.molecules.datasets import DATASETS, load_raw
from shared.errors import DataError

EXPECTED_ROWS = {"solubility": 1282, "freesolv": 642, "b3db_regression": 1058, "b3db_classification": 7807}


@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))  # the pretraining corpus: test_pretrain.py
def test_shipped_datasets_load_and_clean(name):
    info = DATASETS[name]
    raw = load_raw(name)
    assert len(raw) == EXPECTED_ROWS[name]
    frame, report = clean(raw, "smiles", list(info.targets))
    assert report.kept == len(frame) and report.kept + len(report.errors) == len(raw)
    assert report.kept >= 0.98 * len(raw)
    if name == "solubility":
        assert set(frame["split"]) == {"train", "test"} and (frame["split"] == "test").sum() >= 250
    if info.task == "classification":
        assert set(frame[info.targets[0]]) == {0.0, 1.0}


def test_bad_rows_become_errors_with_reasons():
    raw = pd.DataFrame({"smi": ["CCO", "C1CC", "", None, "c1ccccc1", "CCN"], "y": [1.0, 2.0, 3.0, 4.0, "n/a", np.inf]})
    frame, report = clean(raw, "smi", ["y"])
    assert frame["smiles"].tolist() == ["CCO"]
    reasons = [e["reason"] for e in report.errors]
    assert reasons[0].startswith("invalid SMILES") and reasons[1] == "empty SMILES" and reasons[2] == "empty SMILES"
    assert "no numeric target" in reasons[3] and reasons[4] == "non-finite target"
    with pytest.raises(DataError, match="missing column"):
        clean(raw, "smiles", ["y"])


def test_scaffold_split_keeps_scaffolds_on_one_side():
    frame, _ = clean(load_raw("freesolv"), "smiles", ["dG_hydration"])
    smiles = frame["smiles"].tolist()
    split = scaffold_split(smiles)
    assert (split == scaffold_split(smiles)).all()  # deterministic
    sides = {}
    for smi, side in zip(smiles, split):
        sides.setdefault(scaffold(smi), set()).add(side)
    assert all(len(s) == 1 for s in sides.values())
    counts = pd.Series(split).value_counts(normalize=True)
    assert 0.75 <= counts["train"] <= 0.85 and counts["test"] > 0.05


def test_random_split_is_seeded():
    a, b, c = random_split(100, 0), random_split(100, 0), random_split(100, 1)
    assert (a == b).all() and not (a == c).all()
    assert (a == "train").sum() == 80 and (a == "test").sum() == 10
