"""Molecules flows: the template filled with the molecules app's steps."""

from __future__ import annotations

from typing import Any

from prefect import flow

from apps.molecules import steps
from pipelines.template import DomainPipeline, data_to_model, register_pipeline, run_batch
from shared.registry import ModelRegistry


def _cfg(params: dict[str, Any]):
    return steps.config(params.get("config", "default"), params.get("overrides") or [])


MOLECULES = register_pipeline(DomainPipeline(
    name="molecules",
    ingest=lambda p: steps.prepare_data(_cfg(p), p.get("data_dir")),
    validate=lambda p, data: steps.validate_data(_cfg(p), data),
    train=lambda p, data, run_dir: steps.train_model(_cfg(p), data, run_dir),
    evaluate=lambda p, model, data, out: steps.evaluate_model(_cfg(p), model, data, out),
    batch_infer=lambda p, model, inp, out: steps.predict_file(model, inp, out, p.get("smiles_col", "smiles"), progress=False),
    metric="rmse",
    mode="min",
    recipe_modules=("apps.molecules.data", "apps.molecules.steps"),
))


@flow(name="molecules-retrain", log_prints=True)
def retrain(config: str = "default", overrides: list[str] | None = None, data_dir: str | None = None,
            run_root: str = "runs/molecules", registry: str = "runs/registry", batch_input: str | None = None) -> dict:
    """Prepare, validate, train, compare with the RF peers, register per dataset (champion if better),
    and optionally batch-predict ``batch_input`` with the champion."""
    params = {"config": config, "overrides": overrides or [], "data_dir": data_dir}
    return data_to_model("molecules", params, run_root, registry, batch_input)


@flow(name="molecules-batch-predict", log_prints=True)
def batch_predict(input_path: str, output_dir: str, dataset: str = "freesolv", registry: str = "runs/registry",
                  model: str = "champion", smiles_col: str = "smiles", dask: str | None = None) -> dict:
    """Predict every SMILES under ``input_path`` with a registered model (resumable).
    ``dask``: fan the shards out over Dask ("local", or a scheduler address; see pipelines/fanout.py)."""
    entry = ModelRegistry(registry).verified(f"molecules-{dataset}", model)
    return run_batch("molecules", {"smiles_col": smiles_col}, str(entry.path), input_path, output_dir, dask)
