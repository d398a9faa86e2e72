"""Forecasting flows: the template filled with the forecasting app's steps."""

from __future__ import annotations

from typing import Any

from prefect import flow

from apps.forecasting import steps
from pipelines.template import DomainPipeline, data_to_model, register_pipeline, run_batch
from shared.registry import ModelRegistry


def _cfg(params: dict[str, Any]):
    return steps.config(params.get("config", "default"), params.get("overrides") or [])


FORECASTING = register_pipeline(DomainPipeline(
    name="forecasting",
    ingest=lambda p: steps.prepare_data(_cfg(p), p.get("data_dir")),
    validate=lambda p, data: steps.validate_data(_cfg(p), data),
    train=lambda p, data, run_dir: steps.train_model(_cfg(p), data, run_dir),
    evaluate=lambda p, model, data, out: steps.evaluate_model(_cfg(p), model, data, out),
    batch_infer=lambda p, model, inp, out: steps.predict(model, inp, out, p.get("horizon"), progress=False),
    metric="mase",
    mode="min",
    recipe_modules=("apps.forecasting.data", "apps.forecasting.steps"),
))


@flow(name="forecasting-retrain", log_prints=True)
def retrain(config: str = "default", overrides: list[str] | None = None, data_dir: str | None = None,
            run_root: str = "runs/forecasting", registry: str = "runs/registry", batch_input: str | None = None) -> dict:
    """Ingest, validate, train, backtest against the peers, register (champion if better),
    and optionally batch-forecast ``batch_input`` with the champion."""
    params = {"config": config, "overrides": overrides or [], "data_dir": data_dir}
    return data_to_model("forecasting", params, run_root, registry, batch_input)


@flow(name="forecasting-batch-forecast", log_prints=True)
def batch_forecast(input_path: str, output_dir: str, registry: str = "runs/registry", model: str = "champion",
                   horizon: int | None = None, dask: str | None = None) -> dict:
    """Forecast every series under ``input_path`` with a registered model (resumable).
    ``dask``: fan the shards out over Dask ("local", or a scheduler address; see pipelines/fanout.py)."""
    entry = ModelRegistry(registry).verified("forecasting", model)
    return run_batch("forecasting", {"horizon": horizon}, str(entry.path), input_path, output_dir, dask)
