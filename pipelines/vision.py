"""Vision flows: the template filled with the vision app's steps."""

from __future__ import annotations

from typing import Any

from prefect import flow

from apps.vision import steps
from pipelines.template import DomainPipeline, data_to_model, register_pipeline, run_batch
from shared.registry import ModelRegistry


def _cfg(params: dict[str, Any]):
    return steps.config(params.get("config", "default"), params.get("overrides") or [])


VISION = register_pipeline(DomainPipeline(
    name="vision",
    ingest=lambda p: steps.prepare_data(_cfg(p), p.get("data_dir")),
    validate=lambda p, data: steps.validate_data(_cfg(p), data),
    train=lambda p, data, run_dir: steps.train_model(_cfg(p), data, run_dir),
    evaluate=lambda p, model, data, out: steps.evaluate_model(_cfg(p), model, data, out),
    batch_infer=lambda p, model, inp, out: steps.predict_path(model, inp, out, p.get("task", "both"), progress=False),
    metric="instance_f1",
    mode="max",
    recipe_modules=("apps.vision.nuclei", "apps.vision.scenes", "apps.vision.coco", "apps.vision.steps"),
))


@flow(name="vision-retrain", log_prints=True)
def retrain(config: str = "default", overrides: list[str] | None = None, data_dir: str | None = None,
            run_root: str = "runs/vision", registry: str = "runs/registry", batch_input: str | None = None) -> dict:
    """Prepare, validate, train, compare with the classic peer, register (champion if better),
    and optionally batch-predict the images under ``batch_input`` with the champion."""
    params = {"config": config, "overrides": overrides or [], "data_dir": data_dir}
    return data_to_model("vision", params, run_root, registry, batch_input)


@flow(name="vision-batch-predict", log_prints=True)
def batch_predict(input_path: str, output_dir: str, dataset: str = "nuclei", registry: str = "runs/registry",
                  model: str = "champion", task: str = "both", dask: str | None = None) -> dict:
    """Predict every image under ``input_path`` with a registered model (resumable; bad files are error rows).
    ``dask``: fan the shards out over Dask ("local", or a scheduler address; see pipelines/fanout.py)."""
    entry = ModelRegistry(registry).verified(f"vision-{dataset}", model)
    return run_batch("vision", {"task": task}, str(entry.path), input_path, output_dir, dask)
