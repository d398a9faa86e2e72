"""Training, evaluating and predicting on the user's own CSV (``--data``)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apps.molecules.app import APP, main
from apps.molecules.data import clean, load_split, scaffold
from apps.molecules.datasets import load_raw
from apps.molecules.train import evaluate, fit
from shared.errors import DataError


def _freesolv(n=120):
    frame, _ = clean(load_raw("freesolv"), "smiles", ["dG_hydration"])
    return frame.head(n).copy()


def test_users_csv_with_two_targets_trains_one_multitask_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = _freesolv().rename(columns={"smiles": "SMILES"})
    frame["logP_like"] = np.where(np.arange(len(frame)) % 5 == 0, np.nan, frame["dG_hydration"] * -0.5)
    frame.loc[3, "SMILES"] = "nonsense("
    frame.to_csv("mine.csv", index=False)
    cfg = APP.with_data(APP.load_config("tiny", ["data.smiles_column=SMILES", "data.targets=[dG_hydration, logP_like]",
                                                 "data.split=random", "peers=[]"]), "mine.csv")
    data, report = load_split(cfg)
    assert data.targets == ["dG_hydration", "logP_like"] and len(data.frame) == 119
    assert [e["reason"] for e in report.errors] == ["invalid SMILES 'nonsense('"]
    fitted = fit(cfg, data, tmp_path / "run", tmp_path / "c")
    assert fitted.model.cfg.num_targets == 2
    scores = evaluate(cfg, data, fitted, tmp_path / "c")
    assert np.isfinite(scores["ours"]["rmse"])


def test_targets_default_to_every_numeric_column_and_the_split_to_scaffolds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = _freesolv(200).assign(name=lambda f: [f"mol-{i}" for i in range(len(f))])
    frame["twice"] = frame["dG_hydration"] * 2
    frame.to_csv("solv.csv", index=False)
    cfg = APP.with_data(APP.load_config("tiny"), "solv.csv")
    assert cfg.data.dataset == "solv" and APP.registry_name(cfg) == "molecules-solv"
    data, _ = load_split(cfg)
    assert data.targets == ["dG_hydration", "twice"] and data.task == "regression" and data.rule == "scaffold"
    sides = {}
    for smi, side in zip(data.frame["smiles"], data.frame["split"]):
        sides.setdefault(scaffold(smi), set()).add(side)
    assert all(len(s) == 1 for s in sides.values())  # no scaffold on two sides


def test_a_split_column_is_used_and_01_targets_mean_classification(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = _freesolv(100)
    frame["soluble"] = (frame["dG_hydration"] < -4).astype(int)
    frame["split"] = ["test" if i % 5 == 0 else "val" if i % 5 == 1 else "train" for i in range(len(frame))]
    frame[["smiles", "soluble", "split"]].to_csv("labels.csv", index=False)
    cfg = APP.with_data(APP.load_config("tiny"), "labels.csv")
    data, _ = load_split(cfg)
    assert data.task == "classification" and data.rule == "file" and data.targets == ["soluble"]
    assert (data.frame["split"] == "test").sum() == 20 and (data.frame["split"] == "valid").sum() == 20
    column, _ = load_split(APP.with_data(APP.load_config("tiny", ["data.split=column"]), "labels.csv"))
    assert column.rule == "file" and column.frame["split"].tolist() == data.frame["split"].tolist()
    # An explicit rule wins over the column.
    again, _ = load_split(APP.with_data(APP.load_config("tiny", ["data.split=random"]), "labels.csv"))
    assert again.rule == "random" and (again.frame["split"] == "test").sum() == 10


def test_a_users_bad_file_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"smi": ["CCO"], "y": [1.0]}).to_csv("wrong.csv", index=False)
    with pytest.raises(DataError, match="no SMILES column 'smiles'.*data.smiles_column"):
        load_split(APP.with_data(APP.load_config("tiny"), "wrong.csv"))
    pd.DataFrame({"smiles": ["CCO"], "name": ["ethanol"]}).to_csv("no_targets.csv", index=False)
    with pytest.raises(DataError, match="no numeric target column"):
        load_split(APP.with_data(APP.load_config("tiny"), "no_targets.csv"))
    pd.DataFrame({"smiles": ["CCO", "CCN"], "y": [1.0, 2.0], "split": ["train", "holdout"]}).to_csv("s.csv", index=False)
    with pytest.raises(DataError, match=r"split column holds \['holdout'\]"):
        load_split(APP.with_data(APP.load_config("tiny"), "s.csv"))
    pd.DataFrame({"smiles": ["CCO", "CCN", "CCC"], "y": [1.0, 2.0, 3.0]}).to_csv("tiny.csv", index=False)
    with pytest.raises(DataError, match="leaves no"):
        load_split(APP.with_data(APP.load_config("tiny"), "tiny.csv"))
    for rule in ("shipped", "column"):
        with pytest.raises(DataError, match="has no split column"):
            load_split(APP.with_data(APP.load_config("tiny", [f"data.split={rule}"]), "tiny.csv"))
    with pytest.raises(DataError, match="file not found"):
        APP.with_data(APP.load_config("tiny"), "missing.csv")


def test_train_evaluate_predict_on_a_users_csv(tmp_path, monkeypatch, capsys):
    """`train --data my.csv` prepares the file itself; a changed file is prepared again."""
    monkeypatch.chdir(tmp_path)
    sample = APP.sample_files(tmp_path / "mine")
    tiny = ["--config", "tiny", "--data", "mine/solvation.csv"]
    assert main(["train", *tiny, "--run", "run"]) == 0
    out = capsys.readouterr().out
    trained = json.loads(out[out.index("{"):])
    assert trained["model_dir"] == "run/best" and trained["steps"] == 6 and trained["metric"] == "val_rmse"
    cfg = APP.with_data(APP.load_config("tiny"), "mine/solvation.csv")
    prepared = APP.prepared_dir(cfg)
    assert prepared.parent == Path("data/cache/molecules") and APP.is_prepared(cfg, prepared)
    report = APP.validate(cfg, prepared)
    assert report.items == 160 and report.details["split"] == "scaffold" and report.details["targets"] == "hydration_free_energy"

    assert main(["evaluate", *tiny, "--model", "run/best"]) == 0
    out = capsys.readouterr().out
    assert "held out: solvation: Bemis-Murcko scaffold split" in out and "rf_morgan" in out
    assert Path("run/evaluate/metrics.md").is_file()

    assert main(["predict", sample.predict_input, "--model", "run/best", "--out", "preds"]) == 0
    assert "21 rows: 20 ok, 1 error" in capsys.readouterr().out
    errors = (tmp_path / "preds" / "errors.jsonl").read_text()
    assert "candidates:10" in errors and "invalid SMILES" in errors

    frame = pd.read_csv("mine/solvation.csv")
    frame.head(150).to_csv("mine/solvation.csv", index=False)  # the file changed: a new prepared folder
    changed = APP.prepared_dir(APP.with_data(APP.load_config("tiny"), "mine/solvation.csv"))
    assert changed != prepared and not APP.is_prepared(cfg, changed)


def test_a_user_file_outside_the_working_directory_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SEXTANT_ALLOWED_ROOTS", raising=False)
    (tmp_path / "work").mkdir()
    (tmp_path / "mols.csv").write_text("smiles,y\nCCO,1.0\n")
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(DataError, match="outside the working directory"):
        APP.with_data(APP.load_config("tiny"), str(tmp_path / "mols.csv"))
