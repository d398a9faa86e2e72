"""OCR flows: the template filled with the OCR app's steps, and batch OCR with a registered model."""

from __future__ import annotations

from typing import Any

from prefect import flow

from apps.ocr import steps
from pipelines.template import DomainPipeline, data_to_model, register_pipeline, run_batch
from shared.registry import ModelRegistry

RECIPES = ("apps.ocr.corpus", "apps.ocr.fonts", "apps.ocr.render", "apps.ocr.digits", "apps.ocr.data", "apps.ocr.steps")


def _cfg(params: dict[str, Any]):
    return steps.config(params.get("config", "default"), params.get("overrides") or [])


def _read(params: dict[str, Any], model_dir: str, input_path: str, output_dir: str) -> dict:
    return steps.read_path(model_dir, input_path, output_dir, page=params.get("page", False),
                           overlay=params.get("overlay", False), progress=False)


OCR = register_pipeline(DomainPipeline(
    name="ocr",
    ingest=lambda p: steps.prepare_data(_cfg(p), p.get("data_dir"), progress=False),
    validate=lambda p, data: steps.validate_data(_cfg(p), data),
    train=lambda p, data, run_dir: steps.train_model(_cfg(p), data, run_dir),
    evaluate=lambda p, model, data, out: steps.evaluate_model(_cfg(p), model, data, out),
    batch_infer=_read,
    metric="cer",
    mode="min",
    recipe_modules=RECIPES,
))


@flow(name="ocr-retrain", log_prints=True)
def retrain(config: str = "default", overrides: list[str] | None = None, data_dir: str | None = None,
            run_root: str = "runs/ocr", registry: str = "runs/registry", batch_input: str | None = None,
            page: bool = False) -> dict:
    """Render lines (or read yours), validate, train the line model, compare with tesseract per font,
    register (champion if its test CER is lower), and optionally read the images under ``batch_input``."""
    params = {"config": config, "overrides": overrides or [], "data_dir": data_dir, "page": page}
    return data_to_model("ocr", params, run_root, registry, batch_input)


@flow(name="ocr-batch-read", log_prints=True)
def batch_read(input_path: str, output_dir: str, dataset: str = "rendered", registry: str = "runs/registry",
               model: str = "champion", page: bool = False, overlay: bool = False, dask: str | None = None) -> dict:
    """Read every image under ``input_path`` with a registered model (resumable; bad images are error rows).
    ``dask``: fan the shards out over Dask ("local", or a scheduler address; see pipelines/fanout.py)."""
    entry = ModelRegistry(registry).verified(f"ocr-{dataset}", model)
    return run_batch("ocr", {"page": page, "overlay": overlay}, str(entry.path), input_path, output_dir, dask)
