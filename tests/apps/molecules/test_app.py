"""Molecules steps: prepare/train/evaluate, batch prediction with bad rows and resume, CLI."""

import json
import random

import numpy as np
import pandas as pd
import pytest

from apps.molecules import steps
from apps.molecules.batch import make_predict_fn, read_rows
from apps.molecules.cli import main
from shared.inference import read_outputs, run_batch_inference
from shared.model_folder import load_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mol")
    cfg = steps.config("tiny", [f"cache_dir={root / 'cache'}", "model.dropout=0.1"])
    data = steps.prepare_data(cfg, root / "data")
    result = steps.train_model(cfg, data, root / "run")
    return {"cfg": cfg, "data": data, "model_dir": result["model_dir"], "root": root}


def test_evaluate_writes_table_and_grid(trained, tmp_path):
    report = steps.validate_data(trained["cfg"], trained["data"])
    assert report["rows"]["test"] > 0
    result = steps.evaluate_model(trained["cfg"], trained["model_dir"], trained["data"], tmp_path)
    assert {r["model"] for r in result["table"]} == {"ours", "rf_morgan"}
    assert result["registry_name"] == "molecules-freesolv" and result["metric"] == "rmse"
    assert (tmp_path / "best_worst.png").stat().st_size > 5000


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


def test_cli_predict_and_one_line_errors(trained, tmp_path, capsys):
    _csv(tmp_path / "in.csv", 30, 0.1)
    assert main(["predict", str(tmp_path / "in.csv"), "--smiles-col", "smi", "--model", trained["model_dir"],
                 "--out", str(tmp_path / "o"), "--mc-samples", "2"]) == 0
    assert "30 rows: 27 ok, 3 errors" in capsys.readouterr().out
    assert main(["predict", str(tmp_path / "in.csv"), "--model", trained["model_dir"], "--out", str(tmp_path / "o2")]) == 1
    capsys.readouterr()
    assert main(["train", "--config", "tiny", "--set", "dataset=nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown dataset") and err.count("\n") == 1


def test_featurising_on_worker_processes_gives_the_same_predictions(trained, tmp_path):
    from apps.molecules.batch import featurise_pool

    _csv(tmp_path / "m.csv", 40, 0.05)
    loaded = load_model(trained["model_dir"])
    serial = make_predict_fn(loaded, mc_samples=2)(list(read_rows(tmp_path / "m.csv", "smi")))
    with featurise_pool(2) as pool:
        pooled = make_predict_fn(loaded, mc_samples=2, pool=pool)(list(read_rows(tmp_path / "m.csv", "smi")))
    assert [str(r) if isinstance(r, Exception) else r for r in serial] == \
           [str(r) if isinstance(r, Exception) else r for r in pooled]


def test_evaluate_reads_the_inputs_the_model_was_trained_on(trained, tmp_path):
    cache = f"cache_dir={trained['root'] / 'cache'}"
    with_descriptors = steps.config("tiny", [cache, "model.descriptors=true"])
    model_dir = steps.train_model(with_descriptors, trained["data"], tmp_path / "run")["model_dir"]
    # A config that names another model kind and no descriptors must not change what the model reads.
    other = steps.config("tiny", [cache, "kind=smiles", "model.descriptors=false"])
    result = steps.evaluate_model(other, model_dir, trained["data"], tmp_path / "eval", peers=[])
    assert np.isfinite(result["ours"]["rmse"])
