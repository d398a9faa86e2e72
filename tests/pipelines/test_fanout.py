"""Batch inference fanned out over a 2-worker Dask cluster gives what the sequential run gives."""

import json

import numpy as np
import pandas as pd
import pytest

from shared.inference import read_outputs
from shared.registry import ModelRegistry

pytest.importorskip("prefect_dask")


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    """A tiny forecasting model, registered, and a 600-series CSV (3 shards) with one bad series."""
    from apps.forecasting.app import APP

    root = tmp_path_factory.mktemp("fanout")
    cfg = APP.load_config("tiny")
    data = APP.prepare(cfg, root / "data")
    trained = APP.train(cfg, data, root / "train")
    registry = ModelRegistry(root / "registry")
    entry = registry.register("forecasting", trained.model_dir, {"mase": 1.0})
    registry.set_alias("forecasting", "champion", entry.version)
    base = pd.read_parquet(root / "data" / "airpassengers.parquet")
    rng = np.random.default_rng(0)
    frames = [base.assign(unique_id=f"s{i:03d}", y=base["y"] * rng.uniform(0.5, 2.0)) for i in range(599)]
    frames.append(base.head(3).assign(unique_id="too-short"))
    csv = root / "panel.csv"
    pd.concat(frames).to_csv(csv, index=False)
    return root, entry, csv


def _records(out) -> dict:
    return {(r["row_id"], r["step"]): r["forecast"] for r in read_outputs(out)}


def test_dask_batch_matches_sequential_and_resumes(prefect_server, champion):
    from pipelines.flows import forecasting_batch as batch_forecast

    root, _, csv = champion
    registry = str(root / "registry")
    sequential = batch_forecast(input_path=str(csv), output_dir=str(root / "seq"), registry=registry)
    fanned = batch_forecast(input_path=str(csv), output_dir=str(root / "dask"), registry=registry, dask="local")
    for summary in (sequential, fanned):
        assert (summary["rows"], summary["succeeded"], summary["errors"], summary["written_shards"]) == (600, 599, 1, 3)
    seq, dask = _records(root / "seq"), _records(root / "dask")
    assert set(seq) == set(dask) and len(seq) == 599 * 6
    assert np.allclose([seq[k] for k in seq], [dask[k] for k in seq], rtol=1e-5, atol=1e-4)
    assert (root / "seq" / "errors.jsonl").read_text() == (root / "dask" / "errors.jsonl").read_text()
    assert json.loads((root / "dask" / "errors.jsonl").read_text())["row_id"] == "too-short"

    # A killed fan-out job: the shard it never wrote is the only one computed on the rerun.
    (root / "dask" / "shard-00001.parquet").unlink()
    again = batch_forecast(input_path=str(csv), output_dir=str(root / "dask"), registry=registry, dask="local")
    assert (again["written_shards"], again["skipped_shards"], again["succeeded"]) == (1, 2, 599)
    assert _records(root / "dask") == dask
