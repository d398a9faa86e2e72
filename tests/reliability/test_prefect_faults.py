"""Prefect-level faults: a transient task failure is retried; a flow that crashed after data
preparation reuses the cached preparation when rerun, and finishes."""

import pytest


class Faulty:
    """The forecasting App with counting (and optionally failing) prepare and train."""

    def __init__(self, app):
        self.app = app
        self.calls = {"ingest": 0, "train": 0}
        self.behaviour = {"ingest_failures": 0, "train_crashes": 0}

    def __getattr__(self, name):
        return getattr(self.app, name)

    def prepare(self, cfg, out):
        self.calls["ingest"] += 1
        if self.calls["ingest"] <= self.behaviour["ingest_failures"]:
            raise OSError("connection reset by peer")  # transient
        return self.app.prepare(cfg, out)

    def train(self, *args, **kwargs):
        self.calls["train"] += 1
        if self.calls["train"] <= self.behaviour["train_crashes"]:
            raise RuntimeError("worker lost")
        return self.app.train(*args, **kwargs)


@pytest.fixture
def patched_forecasting(monkeypatch):
    from apps.forecasting.app import APP
    from pipelines import template

    faulty = Faulty(APP)
    monkeypatch.setattr(template, "get_app", lambda name: faulty if name == "forecasting" else template.get_app(name))
    return faulty.calls, faulty.behaviour


def test_transient_ingest_failure_is_retried(prefect_server, patched_forecasting, tmp_path):
    from pipelines.flows import forecasting_retrain

    calls, behaviour = patched_forecasting
    behaviour["ingest_failures"] = 1
    result = forecasting_retrain(config="tiny", prepared=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                                 registry=str(tmp_path / "registry"), overrides=["train.seed=7"])
    assert calls["ingest"] == 2 and result["registered"]["version"] == "v0001"


def test_rerun_after_a_crash_reuses_the_cached_data(prefect_server, patched_forecasting, tmp_path):
    from pipelines.flows import forecasting_retrain

    calls, behaviour = patched_forecasting
    behaviour["train_crashes"] = 1
    kwargs = dict(config="tiny", prepared=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                  registry=str(tmp_path / "registry"), overrides=["train.seed=8"])
    with pytest.raises(RuntimeError, match="worker lost"):
        forecasting_retrain(**kwargs)
    assert calls == {"ingest": 1, "train": 1}
    result = forecasting_retrain(**kwargs)
    assert calls == {"ingest": 1, "train": 2}  # preparation came from the cache, not run again
    assert result["registered"]["promoted"] and (tmp_path / "data" / "airpassengers.parquet").is_file()
