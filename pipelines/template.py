"""The one data-to-model flow template, generated for every App.

retrain: ingest -> validate -> train (each stage) -> evaluate against peers -> register -> [batch-infer]
batch:   the champion (or a named version) -> batch-infer (resumable; optionally fanned out on Dask)

:func:`flows_for` builds both flows from an App (``shared/app.py``); the tasks call the
same App methods the CLI calls and pass only small things (names, paths, metric dicts).
The tasks add what Prefect is for: caching of data preparation on its inputs and the
recipe's source, retries on I/O, artifacts (metrics table next to every peer, a link to
the plot), a global concurrency limit on training, and champion promotion in the registry.
No ML logic lives here.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.concurrency.sync import concurrency

from shared.app import App, batch_job, get_app, options_dict
from shared.registry import ModelRegistry

# A global concurrency limit of one slot (created by `sextant server up`): training runs of any
# domain queue for it instead of sharing the cores. Without the limit on the server it is a no-op.
TRAINING_LIMIT = "sextant-training"


def recipe_version(app: App) -> str:
    """A hash of the data recipe's source, so cached data is rebuilt when the recipe changes."""
    digest = hashlib.sha256()
    for name in app.recipe_modules:
        digest.update(inspect.getsource(importlib.import_module(name)).encode())
    return digest.hexdigest()[:16]


def _config(app: App, params: dict[str, Any]) -> Any:
    """The config a flow's parameters name: ``config`` + ``overrides``, reading ``data`` if given."""
    cfg = app.load_config(params.get("config", "default"), params.get("overrides") or [])
    return app.with_data(cfg, params["data"]) if params.get("data") else cfg


def prepared_folder(app: App, params: dict[str, Any]) -> str:
    """Where the flow's data is prepared: ``prepared`` if given, else the App's folder for the config."""
    return str(params.get("prepared") or app.prepared_dir(_config(app, params)))


@task(name="ingest", retries=2, retry_delay_seconds=3, cache_policy=INPUTS + TASK_SOURCE,
      cache_expiration=timedelta(days=7), persist_result=True, result_serializer="json")
def ingest_task(name: str, params: dict[str, Any], folder: str, version: str) -> str:
    """Prepare the App's data into ``folder``; cached on (app, params, folder, recipe version, this source).
    The folder is part of the key, so data keyed on the user's files is rebuilt when they change."""
    app = get_app(name)
    return str(app.prepare(_config(app, params), Path(folder)))


@task(name="validate")
def validate_task(name: str, params: dict[str, Any], data: str) -> dict:
    app = get_app(name)
    report = app.validate(_config(app, params), Path(data)).to_dict()
    get_run_logger().info("validation: %s %s in %s", report["items"], app.items, report["splits"])
    return report


@task(name="train")
def train_task(name: str, params: dict[str, Any], data: str, run_dir: str, stage: str, init: str | None) -> dict:
    """One training stage, holding the global training slot."""
    app = get_app(name)
    with concurrency(TRAINING_LIMIT, occupy=1, raise_on_lease_renewal_failure=False):
        summary = app.train(_config(app, params), Path(data), Path(run_dir), stage, init=init).to_dict()
    get_run_logger().info("%s: %s", stage, summary)
    return summary


@task(name="evaluate")
def evaluate_task(name: str, params: dict[str, Any], model_dir: str, data: str, out_dir: str) -> dict:
    """Score ours and the peers on the same held-out data; publish the comparison."""
    app = get_app(name)
    evaluation = app.evaluate(_config(app, params), model_dir, Path(data), Path(out_dir))
    create_table_artifact(key=f"{name}-metrics", table=_rounded(evaluation.table),
                          description=f"{name}: our held-out metrics next to every peer's ({evaluation.split_rule})")
    if evaluation.artifacts.get("plot"):
        plot = Path(evaluation.artifacts["plot"]).resolve()
        create_markdown_artifact(key=f"{name}-plot", description=f"{name}: held-out plot",
                                 markdown=f"**{name} held-out plot:** [{plot.name}]({plot.as_uri()})\n\n`{plot}`")
    return evaluation.to_dict()


@task(name="register", retries=2, retry_delay_seconds=2)
def register_task(model_dir: str, evaluation: dict, registry_root: str, run_id: str) -> dict:
    """Add the model as a new version of ``evaluation["registry_name"]``; promote it only if it
    beats the champion on the evaluation's metric."""
    name, metric, mode = evaluation["registry_name"], evaluation["metric"], evaluation["mode"]
    registry = ModelRegistry(registry_root)
    version = registry.register(name, model_dir, evaluation["ours"], tags={"run_id": run_id})
    promotion = registry.promote_if_better(name, version.version, metric, mode)
    get_run_logger().info("registered %s %s: %s", name, version.version, promotion.reason)
    return {"name": name, "version": version.version, "promoted": promotion.promoted, "champion": promotion.champion,
            "reason": promotion.reason}


@task(name="batch-infer", retries=1, retry_delay_seconds=3)
def batch_infer_task(name: str, model_dir: str, input_path: str, output_dir: str, options: dict[str, Any] | None) -> dict:
    summary = batch_job(name, model_dir, input_path, output_dir, options)
    get_run_logger().info("batch inference: %s", summary["line"])
    return summary


def run_batch(name: str, model_dir: str, input_path: str, output_dir: str, options: dict[str, Any] | None = None,
              dask: str | None = None) -> dict:
    """A batch job inside a flow: one ``batch-infer`` task, or with ``dask`` ("local" or a scheduler
    address) a ``batch-fanout`` subflow whose shards run as tasks on Dask (:mod:`pipelines.fanout`)."""
    if not dask:
        return batch_infer_task(name, model_dir, input_path, output_dir, options)
    from pipelines.fanout import run_fanout

    return run_fanout(name, model_dir, input_path, output_dir, options, dask)


def data_to_model(name: str, params: dict[str, Any], run_root: str, registry_root: str,
                  batch_input: str | None = None, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the whole template inside a flow; returns a JSON-able summary."""
    from prefect.runtime import flow_run

    app = get_app(name)
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{(flow_run.get_id() or 'local')[:8]}"
    run_dir = Path(run_root) / run_id
    version = recipe_version(app)
    folder = prepared_folder(app, params)
    data = ingest_task(name, params, folder, version)
    if not app.is_prepared(_config(app, params), Path(data)):  # the cache outlived its files: rebuild
        data = ingest_task.with_options(refresh_cache=True)(name, params, folder, version)
    report = validate_task(name, params, data)
    trained: dict[str, dict] = {}
    init = params.get("init")
    for stage in app.stages:
        trained[stage] = train_task(name, params, data, str(run_dir / stage), stage, init)
        init = trained[stage]["model_dir"]
    model_dir = trained[app.stages[-1]]["model_dir"]
    evaluation = evaluate_task(name, params, model_dir, data, str(run_dir / "evaluate"))
    registered = register_task(model_dir, evaluation, registry_root, run_id)
    summary: dict[str, Any] = {
        "run_id": run_id, "run_dir": str(run_dir), "data_path": data, "items": report["items"], "report": report,
        "trained": trained, "registered": registered, "ours": evaluation["ours"], "metric": evaluation["metric"],
        "best_peer": evaluation["best_peer"], "best_peer_scores": evaluation["best_peer_scores"],
        "split_rule": evaluation["split_rule"], "metrics_md": evaluation["artifacts"].get("metrics_md"),
        "plot": evaluation["artifacts"].get("plot")}
    if batch_input:
        champion = ModelRegistry(registry_root).verified(registered["name"], "champion")
        summary["batch"] = batch_infer_task(name, str(champion.path), batch_input, str(run_dir / "batch"), options)
    return summary


def flows_for(app: App) -> tuple[Any, Any]:
    """The App's two flows: ``<name>-retrain`` and ``<name>-batch``.

    Both take ``options``, the App's ``batch_options`` dataclass (the same fields as the
    ``predict`` command's flags), so a deployment sets them as a mapping.
    """
    name = app.name

    def retrain(config: str = "default", overrides: Optional[list[str]] = None, data: Optional[str] = None,
                prepared: Optional[str] = None, run_root: str = f"runs/{name}", registry: str = "runs/registry",
                batch_input: Optional[str] = None, options: Optional[Any] = None, init: Optional[str] = None) -> dict:
        params = {"config": config, "overrides": overrides or [], "data": data, "prepared": prepared, "init": init}
        return data_to_model(name, params, run_root, registry, batch_input, options_dict(options))

    def batch(input_path: str, output_dir: str, registry: str = "runs/registry", model: str = "champion",
              config: str = "default", overrides: Optional[list[str]] = None, data: Optional[str] = None,
              options: Optional[Any] = None, dask: Optional[str] = None) -> dict:
        if (Path(model) / "config.json").is_file():  # a model folder, e.g. a base model used zero-shot
            model_dir = str(model)
        else:
            cfg = _config(app, {"config": config, "overrides": overrides, "data": data})
            model_dir = str(ModelRegistry(registry).verified(app.registry_name(cfg), model).path)
        return run_batch(name, model_dir, input_path, output_dir, options_dict(options), dask)

    retrain.__doc__ = (f"{app.title}\n\nPrepare the data (the config's, or yours with ``data``: {app.data_help}), "
                       "validate, train every stage, evaluate against the peers on held-out data, register "
                       "(champion if better), and optionally batch-predict ``batch_input`` with the champion.")
    batch.__doc__ = (f"Predict everything under ``input_path`` ({app.input_help}) with a registered model; "
                     "resumable, bad inputs in errors.jsonl. ``model``: champion, a version, or a model folder's "
                     "path (used as it is). The registry entry is the one the retrain flow with the "
                     "same ``config``, ``overrides`` and ``data`` registers. ``dask``: fan the shards out over Dask "
                     "(\"local\" or a scheduler address; pipelines/fanout.py).")
    for fn in (retrain, batch):
        fn.__annotations__ = {**fn.__annotations__, "options": Optional[app.batch_options]}
        fn.__qualname__ = fn.__name__ = f"{name.replace('-', '_')}_{fn.__name__}"
    return (flow(name=f"{name}-retrain", log_prints=True)(retrain),
            flow(name=f"{name}-batch", log_prints=True)(batch))


def _rounded(rows: list[dict]) -> list[dict]:
    return [{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in rows]
