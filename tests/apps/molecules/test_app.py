"""The molecules App on the tiny config: prepare/validate/train/evaluate, batch prediction with bad
rows and resume, the CLI."""

import json
import random

import numpy as np
import pandas as pd
import pytest

from apps.molecules.app import APP, MoleculesOptions, main
from apps.molecules.predict import featurise_pool, make_predict_fn, read_rows
from shared.app import run_predictor
from shared.inference import read_outputs, run_batch_inference
from shared.model_folder import load_model


def test_evaluate_writes_table_and_grid(trained, tmp_path):
    report = APP.validate(trained["cfg"], trained["data"])
    assert report.splits["test"] > 0 and report.items == sum(report.splits.values())
    assert report.details["task"] == "regression" and report.details["split"] == "random (seed 0)"
    result = APP.evaluate(trained["cfg"], trained["model_dir"], trained["data"], tmp_path)
    assert {r["model"] for r in result.table} == {"ours", "rf_morgan"}
    assert result.registry_name == "molecules-freesolv" and result.metric == "rmse" and result.mode == "min"
    assert result.best_peer == "rf_morgan" and "seeded random" in result.split_rule
    assert (tmp_path / "best_worst.png").stat().st_size > 5000
    assert json.loads((tmp_path / "metrics.json").read_text()) == result.table
    assert "rf_morgan" in (tmp_path / "metrics.md").read_text()


def test_train_summary(trained):
    summary = trained["summary"]
    assert summary.steps == 6 and summary.metric == "val_rmse" and np.isfinite(summary.best_metric)


def _csv(path, n, bad_fraction, seed=0):
    pool = ["CCO", "c1ccccc1", "CC(=O)O", "CCN(CC)CC", "c1ccncc1", "OC1CCCCC1", "CC(C)Cc1ccc(C)cc1"]
    rng = random.Random(seed)
    rows = [rng.choice(pool) for _ in range(n)]
    bad = rng.sample(range(n), max(1, int(n * bad_fraction)))
    for i in bad:
        rows[i] = "C1CC(" if i % 2 else ""
    pd.DataFrame({"id": range(n), "smi": rows}).to_csv(path, index=False)
    return set(bad)


def test_batch_predict_records_bad_smiles_and_resumes(trained, tmp_path):
    bad = _csv(tmp_path / "mols.csv", 600, 0.01)
    loaded = load_model(trained["model_dir"])
    predict = make_predict_fn(loaded, mc_samples=3)
    calls = []

    def killed_on_third_call(rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return predict(rows)

    with pytest.raises(KeyboardInterrupt):
        run_batch_inference(read_rows(tmp_path / "mols.csv", "smi"), killed_on_third_call, tmp_path / "out",
                            shard_size=100, batch_size=100, progress=False)
    summary = run_batch_inference(read_rows(tmp_path / "mols.csv", "smi"), predict, tmp_path / "out",
                                  shard_size=100, batch_size=100, progress=False)
    assert summary.skipped_shards == 2
    records = read_outputs(tmp_path / "out")
    ids = [r["row_id"] for r in records]
    assert len(ids) == len(set(ids)) == 600 - len(bad)
    errors = [json.loads(x) for x in (tmp_path / "out" / "errors.jsonl").read_text().splitlines()]
    assert {int(e["row_id"].split(":")[1]) for e in errors} == bad
    assert all(np.isfinite(r["dG_hydration"]) and r["dG_hydration_std"] >= 0 for r in records)


def test_predictor_runs_the_batch_job_with_its_options(trained, tmp_path):
    bad = _csv(tmp_path / "mols.csv", 40, 0.05)
    options = MoleculesOptions(smiles_col="smi", mc_samples=2, format="jsonl")
    result = run_predictor(APP.predictor(trained["model_dir"], options), str(tmp_path / "mols.csv"), tmp_path / "out",
                           progress=False)
    assert result["succeeded"] == 40 - len(bad) and result["errors"] == len(bad) and result["files"] == {}
    assert list((tmp_path / "out").glob("shard-*.jsonl"))


def test_cli_predict_and_one_line_errors(trained, tmp_path, capsys):
    _csv(tmp_path / "in.csv", 30, 0.1)
    assert main(["predict", str(tmp_path / "in.csv"), "--smiles-col", "smi", "--model", trained["model_dir"],
                 "--out", str(tmp_path / "o"), "--mc-samples", "2"]) == 0
    assert "30 rows: 27 ok, 3 errors" in capsys.readouterr().out
    assert main(["predict", str(tmp_path / "in.csv"), "--model", trained["model_dir"], "--out", str(tmp_path / "o2")]) == 1
    capsys.readouterr()
    assert main(["train", "--config", "tiny", "--set", "data.dataset=nope", "--prepared", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown dataset") and err.count("\n") == 1
    assert main(["train", "--config", "tiny", "--set", "model.kind=smiles", "model.descriptors=true"]) == 2
    assert "model.descriptors is an option of the graph model" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "in.csv"), "--model", trained["model_dir"], "--out", str(tmp_path / "o3"),
                 "--mc-samples", "0"]) == 2
    assert "mc_samples must be at least 1" in capsys.readouterr().err


def test_featurising_on_worker_processes_gives_the_same_predictions(trained, tmp_path):
    _csv(tmp_path / "m.csv", 40, 0.05)
    loaded = load_model(trained["model_dir"])
    serial = make_predict_fn(loaded, mc_samples=2)(list(read_rows(tmp_path / "m.csv", "smi")))
    with featurise_pool(2) as pool:
        pooled = make_predict_fn(loaded, mc_samples=2, pool=pool)(list(read_rows(tmp_path / "m.csv", "smi")))
    assert [str(r) if isinstance(r, Exception) else r for r in serial] == \
           [str(r) if isinstance(r, Exception) else r for r in pooled]


def test_evaluate_reads_the_inputs_the_model_was_trained_on(trained, tmp_path):
    cache = f"data.cache_dir={trained['root'] / 'cache'}"
    with_descriptors = APP.load_config("tiny", [cache, "model.descriptors=true"])
    model_dir = APP.train(with_descriptors, trained["data"], tmp_path / "run").model_dir
    # A config that names another model kind and no descriptors must not change what the model reads.
    other = APP.load_config("tiny", [cache, "model.kind=smiles", "model.descriptors=false"])
    result = APP.evaluate(other, model_dir, trained["data"], tmp_path / "eval", peers=[])
    assert np.isfinite(result.ours["rmse"]) and result.best_peer is None


def test_init_starts_from_a_trained_model(trained, tmp_path):
    cfg = APP.load_config("tiny", [f"data.cache_dir={trained['root'] / 'cache'}", "train.max_steps=3"])
    summary = APP.train(cfg, trained["data"], tmp_path / "run", init=trained["model_dir"])
    start, tuned = load_model(trained["model_dir"]).model, load_model(summary.model_dir).model
    assert summary.steps == 3 and tuned.cfg.target_mean == start.cfg.target_mean
    assert tuned.cfg.dropout == start.cfg.dropout == 0.1  # the init model's architecture, not the config's
