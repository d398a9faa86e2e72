"""Prefect-level faults: a transient task failure is retried; a flow that crashed after data
preparation reuses the cached preparation when rerun, and finishes."""

from dataclasses import replace

import pytest


@pytest.fixture
def patched_forecasting(monkeypatch):
    """The forecasting pipeline with counting (and optionally failing) ingest and train steps."""
    from pipelines import template
    from pipelines.forecasting import FORECASTING

    calls = {"ingest": 0, "train": 0}
    behaviour = {"ingest_failures": 0, "train_crashes": 0}

    def ingest(params):
        calls["ingest"] += 1
        if calls["ingest"] <= behaviour["ingest_failures"]:
            raise OSError("connection reset by peer")  # transient
        return FORECASTING.ingest(params)

    def train(params, data, run_dir):
        calls["train"] += 1
        if calls["train"] <= behaviour["train_crashes"]:
            raise RuntimeError("worker lost")
        return FORECASTING.train(params, data, run_dir)

    monkeypatch.setitem(template._PIPELINES, "forecasting", replace(FORECASTING, ingest=ingest, train=train))
    return calls, behaviour


def test_transient_ingest_failure_is_retried(prefect_server, patched_forecasting, tmp_path):
    from pipelines.forecasting import retrain

    calls, behaviour = patched_forecasting
    behaviour["ingest_failures"] = 1
    result = retrain(config="tiny", data_dir=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                     registry=str(tmp_path / "registry"), overrides=["train.seed=7"])
    assert calls["ingest"] == 2 and result["registered"]["version"] == "v0001"


def test_rerun_after_a_crash_reuses_the_cached_data(prefect_server, patched_forecasting, tmp_path):
    from pipelines.forecasting import retrain

    calls, behaviour = patched_forecasting
    behaviour["train_crashes"] = 1
    kwargs = dict(config="tiny", data_dir=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                  registry=str(tmp_path / "registry"), overrides=["train.seed=8"])
    with pytest.raises(RuntimeError, match="worker lost"):
        retrain(**kwargs)
    assert calls == {"ingest": 1, "train": 1}
    result = retrain(**kwargs)
    assert calls == {"ingest": 1, "train": 2}  # preparation came from the cache, not run again
    assert result["registered"]["promoted"] and (tmp_path / "data" / "airpassengers.parquet").is_file()
