"""Summarization flows: the template (with its pretraining stage) filled with the app's steps, and
batch summarization with a registered model."""

from __future__ import annotations

from typing import Any

from prefect import flow

from apps.summarization import steps
from pipelines.template import DomainPipeline, data_to_model, register_pipeline, run_batch
from shared.registry import ModelRegistry

RECIPES = ("apps.summarization.sentences", "apps.summarization.data", "apps.summarization.wiki",
           "apps.summarization.gap_sentences", "apps.summarization.steps")


def _cfg(params: dict[str, Any]):
    return steps.config(params.get("config", "default"), params.get("overrides") or [])


def _summarize(params: dict[str, Any], model_dir: str, input_path: str, output_dir: str) -> dict:
    return steps.summarize_path(model_dir, input_path, output_dir, _cfg(params).decode, progress=False)


SUMMARIZATION = register_pipeline(DomainPipeline(
    name="summarization",
    ingest=lambda p: steps.prepare_data(_cfg(p), p.get("data_dir"), progress=False),
    validate=lambda p, data: steps.validate_data(_cfg(p), data),
    pretrain=lambda p, data, run_dir: steps.pretrain_model(_cfg(p), data, run_dir),
    train=lambda p, data, run_dir: steps.train_model(_cfg(p), data, run_dir, p.get("pretrained")),
    evaluate=lambda p, model, data, out: steps.evaluate_model(_cfg(p), model, data, out),
    batch_infer=_summarize,
    metric="rougeL",
    mode="max",
    recipe_modules=RECIPES,
))


@flow(name="summarization-retrain", log_prints=True)
def retrain(config: str = "default", overrides: list[str] | None = None, data_dir: str | None = None,
            run_root: str = "runs/summarization", registry: str = "runs/registry",
            batch_input: str | None = None) -> dict:
    """Prepare pairs and pretraining text, pretrain (gap sentences), fine-tune, compare with lead-k and
    sumy's extractive peers by ROUGE, register (champion if its test ROUGE-L is higher), and optionally
    summarize the documents under ``batch_input``."""
    params = {"config": config, "overrides": overrides or [], "data_dir": data_dir}
    return data_to_model("summarization", params, run_root, registry, batch_input)


@flow(name="summarization-batch", log_prints=True)
def batch_summarize(input_path: str, output_dir: str, dataset: str = "debian", registry: str = "runs/registry",
                    model: str = "champion", config: str = "default", dask: str | None = None) -> dict:
    """Summarize a JSONL, a .txt file or a folder with a registered model (resumable; bad documents are
    error rows).
    ``dask``: fan the shards out over Dask ("local", or a scheduler address; see pipelines/fanout.py)."""
    entry = ModelRegistry(registry).verified(f"summarization-{dataset}", model)
    return run_batch("summarization", {"config": config}, str(entry.path), input_path, output_dir, dask)
