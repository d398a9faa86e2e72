"""The one data-to-model flow template every domain fills in.

ingest -> validate -> [pretrain] -> train -> evaluate against peers -> register -> batch-infer

A domain supplies a :class:`DomainPipeline`: plain functions from its app
that take and return small things (paths, run ids, metric dicts). The tasks
here add what Prefect is for: caching of data preparation on its inputs and
the recipe's source, retries on I/O, artifacts (metrics table next to every
peer, a link to the plot), and champion promotion in the registry. No ML
logic lives here.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from prefect import get_run_logger, task
from prefect.concurrency.sync import concurrency
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE

from shared.registry import ModelRegistry

_PIPELINES: dict[str, DomainPipeline] = {}
# A global concurrency limit of one slot (created by `sextant server up`): training runs of any
# domain queue for it instead of sharing the cores. Without the limit on the server it is a no-op.
TRAINING_LIMIT = "sextant-training"


@dataclass(frozen=True)
class DomainPipeline:
    """What a domain plugs into the template. ``params`` is the flow's parameter dict."""

    name: str
    ingest: Callable[[dict[str, Any]], str]  # params -> prepared data path
    validate: Callable[[dict[str, Any], str], dict]  # (params, data path) -> report; raises to refuse
    train: Callable[[dict[str, Any], str, str], dict]  # (params, data path, run dir) -> {"model_dir", ...}
    evaluate: Callable[[dict[str, Any], str, str, str], dict]  # (params, model dir, data path, out dir) -> results
    batch_infer: Callable[[dict[str, Any], str, str, str], dict]  # (params, model dir, input, output) -> summary
    metric: str
    mode: Literal["min", "max"] = "min"
    recipe_modules: tuple[str, ...] = ()  # modules whose source defines the data recipe (cache key)
    # optional self-supervised stage before train: (params, data path, run dir) -> {"model_dir", ...};
    # its model_dir reaches train as params["pretrained"]
    pretrain: Callable[[dict[str, Any], str, str], dict] | None = None


def register_pipeline(pipeline: DomainPipeline) -> DomainPipeline:
    _PIPELINES[pipeline.name] = pipeline
    return pipeline


def get_pipeline(name: str) -> DomainPipeline:
    """The pipeline registered as ``name``; ``<domain>`` and ``<domain>-<variant>`` live in ``pipelines/<domain>.py``."""
    if name not in _PIPELINES:
        importlib.import_module(f"pipelines.{name.split('-')[0]}")
    return _PIPELINES[name]


def recipe_version(pipeline: DomainPipeline) -> str:
    """A hash of the data recipe's source, so cached data is rebuilt when the recipe changes."""
    digest = hashlib.sha256()
    for name in pipeline.recipe_modules:
        digest.update(inspect.getsource(importlib.import_module(name)).encode())
    return digest.hexdigest()[:16]


@task(name="ingest", retries=2, retry_delay_seconds=3, cache_policy=INPUTS + TASK_SOURCE,
      cache_expiration=timedelta(days=7), persist_result=True, result_serializer="json")
def ingest_task(domain: str, params: dict[str, Any], version: str) -> str:
    """Prepare the domain's data; cached on (domain, params, recipe version, this source)."""
    return get_pipeline(domain).ingest(params)


@task(name="validate")
def validate_task(domain: str, params: dict[str, Any], data_path: str) -> dict:
    report = get_pipeline(domain).validate(params, data_path)
    get_run_logger().info("validation: %s", {k: v for k, v in report.items() if k != "datasets"})
    return report


@task(name="pretrain")
def pretrain_task(domain: str, params: dict[str, Any], data_path: str, run_dir: str) -> dict:
    with concurrency(TRAINING_LIMIT, occupy=1, raise_on_lease_renewal_failure=False):
        result = get_pipeline(domain).pretrain(params, data_path, run_dir)
    get_run_logger().info("pretrained: %s", result)
    return result


@task(name="train")
def train_task(domain: str, params: dict[str, Any], data_path: str, run_dir: str) -> dict:
    with concurrency(TRAINING_LIMIT, occupy=1, raise_on_lease_renewal_failure=False):
        return get_pipeline(domain).train(params, data_path, run_dir)


@task(name="evaluate")
def evaluate_task(domain: str, params: dict[str, Any], model_dir: str, data_path: str, out_dir: str) -> dict:
    """Score ours and the peers on the same held-out data; publish the comparison."""
    results = get_pipeline(domain).evaluate(params, model_dir, data_path, out_dir)
    create_table_artifact(key=f"{domain}-metrics", table=_rounded(results["table"]),
                          description=f"{domain}: our held-out metrics next to every peer's")
    if results.get("plot"):
        plot = Path(results["plot"]).resolve()
        create_markdown_artifact(key=f"{domain}-plot", description=f"{domain}: held-out plot",
                                 markdown=f"**{domain} held-out plot:** [{plot.name}]({plot.as_uri()})\n\n`{plot}`")
    return results


@task(name="register", retries=2, retry_delay_seconds=2)
def register_task(domain: str, model_dir: str, results: dict, registry_root: str, run_id: str) -> dict:
    """Add the model as a new version; promote it only if it beats the champion.

    ``results`` may name the registry entry and metric (``registry_name``,
    ``metric``, ``mode``) when they depend on the data, e.g. one champion per
    dataset; otherwise the domain's defaults apply.
    """
    pipeline = get_pipeline(domain)
    name = results.get("registry_name", domain)
    metric, mode = results.get("metric", pipeline.metric), results.get("mode", pipeline.mode)
    registry = ModelRegistry(registry_root)
    version = registry.register(name, model_dir, results["ours"], tags={"run_id": run_id})
    promotion = registry.promote_if_better(name, version.version, metric, mode)
    get_run_logger().info("registered %s %s: %s", name, version.version, promotion.reason)
    return {"name": name, "version": version.version, "promoted": promotion.promoted, "champion": promotion.champion,
            "reason": promotion.reason}


@task(name="batch-infer", retries=1, retry_delay_seconds=3)
def batch_infer_task(domain: str, params: dict[str, Any], model_dir: str, input_path: str, output_dir: str) -> dict:
    summary = get_pipeline(domain).batch_infer(params, model_dir, input_path, output_dir)
    get_run_logger().info("batch inference: %s", summary.get("line", summary))
    return summary


def run_batch(domain: str, params: dict[str, Any], model_dir: str, input_path: str, output_dir: str,
              dask: str | None = None) -> dict:
    """A domain's batch job inside a flow: one ``batch-infer`` task, or with ``dask`` ("local" or a
    scheduler address) a ``batch-fanout`` subflow whose shards run as tasks on Dask (:mod:`pipelines.fanout`)."""
    if not dask:
        return batch_infer_task(domain, params, model_dir, input_path, output_dir)
    from pipelines.fanout import run_fanout

    return run_fanout(domain, params, model_dir, input_path, output_dir, dask)


def data_to_model(domain: str, params: dict[str, Any], run_root: str, registry_root: str,
                  batch_input: str | None = None) -> dict[str, Any]:
    """Run the whole template inside a flow; returns a JSON-able summary."""
    from prefect.runtime import flow_run

    pipeline = get_pipeline(domain)
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{(flow_run.get_id() or 'local')[:8]}"
    run_dir = Path(run_root) / run_id
    version = recipe_version(pipeline)
    data_path = ingest_task(domain, params, version)
    if not Path(data_path).exists():  # the cache outlived its files: rebuild
        data_path = ingest_task.with_options(refresh_cache=True)(domain, params, version)
    report = validate_task(domain, params, data_path)
    pretrained = None
    if pipeline.pretrain is not None:
        pretrained = pretrain_task(domain, params, data_path, str(run_dir / "pretrain"))
        params = {**params, "pretrained": pretrained.get("model_dir")}
    trained = train_task(domain, params, data_path, str(run_dir / "train"))
    results = evaluate_task(domain, params, trained["model_dir"], data_path, str(run_dir / "evaluate"))
    registered = register_task(domain, trained["model_dir"], results, registry_root, run_id)
    summary: dict[str, Any] = {"run_id": run_id, "run_dir": str(run_dir), "data_path": data_path,
                               "series": report.get("series"), "pretrained": pretrained, "trained": trained, "registered": registered,
                               "ours": results["ours"], "best_peer": results.get("best_peer"),
                               "best_peer_scores": results.get("best_peer_scores"),
                               "metrics_md": str(run_dir / "evaluate" / "metrics.md"), "plot": results.get("plot")}
    if batch_input:
        champion = ModelRegistry(registry_root).verified(registered["name"], "champion")
        summary["batch"] = batch_infer_task(domain, params, str(champion.path), batch_input, str(run_dir / "batch"))
    return summary


def _rounded(rows: list[dict]) -> list[dict]:
    return [{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in rows]
