"""The molecules flows end to end under Prefect (tiny config): retrain on the shipped data and on a
user's CSV, then batch-predict with the champion."""

from pathlib import Path

import pandas as pd

from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_molecules_flow_end_to_end(prefect_server, tmp_path):
    from pipelines.flows import molecules_batch, molecules_retrain

    batch_in = tmp_path / "incoming.csv"
    pd.DataFrame({"smiles": ["CCO", "not-a-smiles", "c1ccccc1"]}).to_csv(batch_in, index=False)
    summary = molecules_retrain(config="tiny", overrides=[f"data.cache_dir={tmp_path / 'cache'}"],
                                prepared=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                                registry=str(tmp_path / "registry"), batch_input=str(batch_in))
    assert summary["registered"]["name"] == "molecules-freesolv" and summary["registered"]["promoted"]
    assert ModelRegistry(tmp_path / "registry").champion("molecules-freesolv").version == "v0001"
    assert summary["batch"]["succeeded"] == 2 and summary["batch"]["errors"] == 1
    assert len(read_outputs(Path(summary["run_dir"]) / "batch")) == 2
    assert "seeded random" in summary["split_rule"] and summary["best_peer"] == "rf_morgan"

    batch = molecules_batch(input_path=str(batch_in), output_dir=str(tmp_path / "out"), registry=str(tmp_path / "registry"),
                            config="tiny", options={"mc_samples": 2, "format": "jsonl"})
    assert batch["succeeded"] == 2 and batch["errors"] == 1
    assert list((tmp_path / "out").glob("shard-*.jsonl"))


def test_molecules_flow_on_a_users_csv(prefect_server, tmp_path, monkeypatch):
    from apps.molecules.app import APP
    from pipelines.flows import molecules_batch, molecules_retrain

    monkeypatch.chdir(tmp_path)
    sample = APP.sample_files(tmp_path / "mine")
    summary = molecules_retrain(config="tiny", data=sample.data, run_root=str(tmp_path / "runs"),
                                registry=str(tmp_path / "registry"))
    assert summary["registered"]["name"] == "molecules-solvation" and "scaffold" in summary["split_rule"]
    assert summary["report"]["splits"]["test"] > 0
    batch = molecules_batch(input_path=sample.predict_input, output_dir=str(tmp_path / "out"),
                            registry=str(tmp_path / "registry"), config="tiny",
                            overrides=["data.dataset=solvation"])  # registry name molecules-solvation
    assert batch["succeeded"] == 20 and batch["errors"] == 1


def test_pretrain_and_fine_tune_through_the_retrain_flow(prefect_server, tmp_path, monkeypatch):
    """The retrain flow pretrains the encoder (``config`` + pretraining overrides) and fine-tunes
    from it (``init``)."""
    from pipelines.flows import molecules_retrain
    from shared.model_folder import load_model
    from tests.apps.molecules.test_pretrain import HELD_OUT, SMALL_SOURCES, _pretrain_overrides
    from apps.molecules import data
    from apps.molecules.datasets import corpus

    monkeypatch.setattr(corpus, "source_smiles", lambda molecules, seed=0: SMALL_SOURCES)
    monkeypatch.setattr(data, "held_out_smiles", lambda: HELD_OUT)
    pre = molecules_retrain(config="tiny", overrides=_pretrain_overrides(tmp_path), prepared=str(tmp_path / "pre-data"),
                            run_root=str(tmp_path / "runs"), registry=str(tmp_path / "registry"))
    encoder = pre["trained"]["train"]["model_dir"]
    assert load_model(encoder).model.cfg.num_targets > 50 and pre["registered"]["name"] == "molecules-pretraining"
    tuned = molecules_retrain(config="tiny", init=encoder, overrides=[f"data.cache_dir={tmp_path / 'cache'}", "refit=true"],
                              prepared=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                              registry=str(tmp_path / "registry"))
    loaded = load_model(tuned["trained"]["train"]["model_dir"])
    assert tuned["trained"]["train"]["model_dir"].endswith("refit/best") and loaded.metadata["init_transfer"] == "encoder"
    assert loaded.metadata["trained_on"] == ["train", "valid"] and tuned["registered"]["name"] == "molecules-freesolv"
