"""Batch inference fanned out over a Dask cluster: one Prefect task per shard (prefect-dask).

Every app's batch job goes through :func:`shared.inference.run_batch_inference`, which
cuts rows into shards and skips shards already written. Here the pending shards become
``infer-shard`` tasks on a :class:`~prefect_dask.DaskTaskRunner`; the flow process
keeps reading rows and writes each finished shard, so outputs, error rows and resume are
exactly those of the sequential run. No app code changes.

Where the tasks run:

- ``dask="local"``: a temporary ``LocalCluster`` of 2 worker processes, 1 thread each
  (one per core here);
- ``dask="tcp://scheduler:8786"``, or ``dask="local"`` with ``SEXTANT_DASK_ADDRESS`` set:
  an existing cluster (``docker/compose.yaml`` has a ``dask`` profile). Its workers need
  the project installed, ``PREFECT_API_URL`` set to the server's API, and the model folder
  and inputs at the same paths.

The predict function (with its model) is sent to each worker once per job.
"""

from __future__ import annotations

import os
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from shared.app import batch_job
from shared.inference import InputRow, PredictFn, ShardResult, compute_shard, use_shard_executor

DASK_ADDRESS_ENV = "SEXTANT_DASK_ADDRESS"
LOCAL = "local"


def dask_address(dask: str) -> str | None:
    """The scheduler to connect to, or None for a temporary local cluster."""
    if dask == LOCAL:
        return os.environ.get(DASK_ADDRESS_ENV) or None
    return dask


def prefect_worker_env() -> dict[str, str]:
    """Environment for local Dask worker processes, so their task runs report to this process's Prefect API.

    Without ``PREFECT_API_URL`` this process talks to a temporary local server; a worker process
    would otherwise start a temporary server of its own (slow, and a second writer on the database).
    """
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return {"PREFECT_API_URL": str(client.api_url).rstrip("/")}


def keep_default_malloc() -> None:
    """Stop Dask's nannies from setting ``MALLOC_TRIM_THRESHOLD_`` in the worker processes they start.

    Setting it turns off glibc's adaptive mmap threshold, so every tensor over 128 KiB is
    mmapped and unmapped again: beam search ran 1.7x slower per shard in a worker with it than
    without (measured here). This changes the Dask configuration of this process.
    """
    import dask

    dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})


def dask_task_runner(dask: str = LOCAL, n_workers: int = 2):
    """A DaskTaskRunner on an existing scheduler, or on a temporary LocalCluster of ``n_workers``."""
    from prefect_dask import DaskTaskRunner

    address = dask_address(dask)
    if address:
        return DaskTaskRunner(address=address)
    keep_default_malloc()
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": n_workers, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None, "env": prefect_worker_env()})


def _match_worker_threads() -> None:
    """On a Dask worker, give torch as many threads as the worker has (not one per core each)."""
    try:
        from distributed import get_worker

        threads = get_worker().state.nthreads
    except (ImportError, ValueError):  # not on a Dask worker
        return
    import torch

    torch.set_num_threads(max(1, threads))


@task(name="infer-shard", cache_policy=NONE, retries=1, retry_delay_seconds=2)
def infer_shard(predict: PredictFn, shard: list[InputRow], k: int, batch_size: int) -> ShardResult:
    """Records and error rows of one shard (:func:`shared.inference.compute_shard`)."""
    _match_worker_threads()
    return compute_shard(shard, k, predict, batch_size)


class PrefectShardExecutor:
    """Submits each shard as an ``infer-shard`` task to the current flow's (Dask) task runner.

    The predict function, with its model (8.5 MB for the demo summarizer), is sent to every
    worker once (``scatter``) and the tasks refer to it, so a shard task carries only its rows.
    """

    def __init__(self, max_in_flight: int = 4):
        self.max_in_flight = max_in_flight
        self._shipped: tuple[PredictFn, Any] | None = None

    def submit(self, predict: PredictFn, shard: list[InputRow], k: int, batch_size: int):
        return infer_shard.submit(self._on_workers(predict), shard, k, batch_size)

    def _on_workers(self, predict: PredictFn) -> Any:
        """A Dask future of ``predict`` on every worker (``predict`` itself under a non-Dask task runner)."""
        if self._shipped is None or self._shipped[0] is not predict:
            from prefect.context import FlowRunContext

            client = getattr(getattr(FlowRunContext.get(), "task_runner", None), "client", None)
            shipped = client.scatter(predict, broadcast=True, hash=False) if client is not None else predict
            self._shipped = (predict, shipped)
        return self._shipped[1]


@flow(name="batch-fanout", log_prints=True)
def fanout_batch(name: str, model_dir: str, input_path: str, output_dir: str,
                 options: dict[str, Any] | None = None) -> dict:
    """The App's batch job with its shards computed by this flow's task runner."""
    with use_shard_executor(PrefectShardExecutor()):
        return batch_job(name, model_dir, input_path, output_dir, options)


def run_fanout(name: str, model_dir: str, input_path: str, output_dir: str, options: dict[str, Any] | None = None,
               dask: str = LOCAL, n_workers: int = 2) -> dict:
    """Run :func:`fanout_batch` (as a subflow when called inside a flow) on a Dask task runner."""
    runner = dask_task_runner(dask, n_workers)
    return fanout_batch.with_options(task_runner=runner)(name, model_dir, input_path, output_dir, options)
