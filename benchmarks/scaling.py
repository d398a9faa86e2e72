"""Scale-out benchmark: batch inference on a 2-worker Dask cluster, and training under torchrun.

    python benchmarks/scaling.py            # about 6 minutes on 2 cores
    python benchmarks/scaling.py --quick    # tiny sizes: checks the script, not the machine

Workload: the summarization app (CPU-bound beam search; transformer training).

- **Batch inference**: the Debian test documents (1,000) summarized by a demo-config model
  (fine-tuned here for 250 steps from scratch) through the app's batch job, three ways:
  sequentially in one process with torch on 2 threads (what a user gets by default) and on
  1 thread, and fanned out by the ``batch-fanout`` Prefect flow over a temporary
  ``LocalCluster`` of 2 worker processes with 1 thread each (``pipelines/fanout.py``).
  Rows/s counts the batch job itself on a running cluster (starting the cluster is reported
  separately); every mode writes the same output set, which the script checks.
- **Training**: ``sextant summarization train --config demo`` fine-tuning with a global batch of
  32, in one process (2 threads) and with ``--nproc 2`` (2 processes, 1 thread each, gloo).
  Steps/s is measured between two runs of different lengths (20 and 80 steps), so start-up,
  the final validation and checkpointing cancel out.

Writes ``benchmarks/results/scaling.json`` and ``scaling.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.core import cpu_name, matmul_peak  # noqa: E402

RESULTS = Path(__file__).parent / "results"
WORK = ROOT / "runs" / "bench"


def _train_command(run: Path, steps: int, nproc: int, quick: bool) -> list[str]:
    config = "tiny" if quick else "demo"
    overrides = [f"train.max_steps={steps}", f"train.eval_every={steps}", "train.progress=false", "train.valid_limit=16"]
    return [sys.executable, "-m", "shared.cli", "summarization", "train", "--config", config, "--run", str(run),
            "--nproc", str(nproc), "--set", *overrides]


def bench_training(work: Path, quick: bool) -> dict:
    """Fine-tuning steps/s, 1 process against 2 data-parallel processes, same global batch."""
    short, long = (4, 12) if quick else (20, 80)
    out: dict = {"steps": [short, long]}
    for nproc in (1, 2):
        seconds = {}
        for steps in (short, long):
            run = work / f"train-{nproc}p-{steps}"
            subprocess.run(["rm", "-rf", str(run)], check=True)
            start = time.perf_counter()
            done = subprocess.run(_train_command(run, steps, nproc, quick), cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                raise RuntimeError(f"training with --nproc {nproc} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout[done.stdout.index("{"):])
            seconds[steps] = {"train_seconds": result["seconds"], "wall_seconds": wall}
        rate = (long - short) / (seconds[long]["train_seconds"] - seconds[short]["train_seconds"])
        out[f"{nproc}p"] = {"steps_per_s": rate, "runs": seconds}
    out["speedup"] = out["2p"]["steps_per_s"] / out["1p"]["steps_per_s"]
    return out


def _inference_model(work: Path, quick: bool) -> tuple[str, str]:
    """A fine-tuned summarizer and the JSONL of Debian test documents to summarize."""
    from apps.summarization.app import APP
    from apps.summarization.data import load_set

    cfg = APP.load_config("tiny" if quick else "demo", ["train.progress=false"])
    data = APP.prepared_dir(cfg)
    if not APP.is_prepared(cfg, data):
        APP.prepare(cfg, data)
    model = work / "model"
    if not (model / "best").exists():
        APP.train(cfg, data, model)
    docs = load_set(data, "test")[: 64 if quick else 1000]
    path = work / "documents.jsonl"
    path.write_text("".join(json.dumps({"id": p.id, "document": p.document}) + "\n" for p in docs))
    return str(model / "best"), str(path)


def _summaries(out: Path) -> dict:
    from shared.inference import read_outputs

    return {r["row_id"]: r["summary"] for r in read_outputs(out)}


def _warm_up() -> None:
    import apps.summarization.predict  # noqa: F401
    import pipelines.fanout  # noqa: F401


def bench_inference(work: Path, quick: bool) -> dict:
    """Rows/s of the summarization batch job: sequential (2 and 1 threads) and fanned out on Dask."""
    import torch

    from dataclasses import asdict

    from apps.summarization.app import APP, SummarizationOptions
    from pipelines.fanout import run_fanout
    from shared.app import run_predictor

    model, documents = _inference_model(work, quick)
    decode = APP.load_config("tiny" if quick else "demo").decode  # the config's beam search, in every mode
    options = SummarizationOptions(beams=decode.num_beams, max_length=decode.max_length, min_length=decode.min_length,
                                   no_repeat_ngram=decode.no_repeat_ngram_size, length_penalty=decode.length_penalty,
                                   batch_size=decode.batch_size)
    modes: dict = {}
    for threads in (2, 1):
        torch.set_num_threads(threads)
        out = work / f"seq-{threads}t"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        summary = run_predictor(APP.predictor(model, options), documents, out, progress=False)
        modes[f"sequential, {threads} thread{'s' if threads > 1 else ''}"] = {
            "rows": summary["rows"], "rows_per_s": summary["rows_per_second"], "seconds": summary["seconds"]}
    torch.set_num_threads(2)
    out = work / "dask"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    from distributed import Client, LocalCluster

    from pipelines.fanout import keep_default_malloc, prefect_worker_env

    keep_default_malloc()

    start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      env=prefect_worker_env()) as cluster, Client(cluster) as client:
        client.run(_warm_up)  # worker processes import torch and the app once, as a long-lived cluster has
        started = time.perf_counter() - start
        summary = run_fanout("summarization", model, documents, str(out), asdict(options), cluster.scheduler_address)
    wall = time.perf_counter() - start
    modes["Dask, 2 workers x 1 thread"] = {"rows": summary["rows"], "rows_per_s": summary["rows_per_second"],
                                           "seconds": summary["seconds"], "cluster_start_seconds": started,
                                           "wall_seconds_with_cluster_start": wall}
    same = _summaries(work / "seq-2t") == _summaries(out)
    base = modes["sequential, 2 threads"]["rows_per_s"]
    for mode in modes.values():
        mode["speedup"] = mode["rows_per_s"] / base
    return {"documents": summary["rows"], "modes": modes, "same_outputs": same,
            "speedup_vs_1_thread": modes["Dask, 2 workers x 1 thread"]["rows_per_s"]
            / modes["sequential, 1 thread"]["rows_per_s"]}


def markdown(r: dict) -> str:
    inf, tr = r["inference"], r["training"]
    lines = ["# Scaling benchmark", "",
             f"Machine: {r['machine']}, {r['cpus']} cores; fp32 matmul peak measured in this run: "
             f"**{r['matmul_peak_gflops']:.1f} GFLOP/s**. Command: `{r['command']}`.", "",
             f"## Batch inference (summarization, {inf['documents']} Debian test documents, demo-config model)", "",
             "| mode | rows/s | seconds | speedup vs sequential (2 threads) |", "|---|---:|---:|---:|"]
    for name, m in inf["modes"].items():
        lines.append(f"| {name} | {m['rows_per_s']:.1f} | {m['seconds']:.1f} | {m['speedup']:.2f}x |")
    dask = inf["modes"]["Dask, 2 workers x 1 thread"]
    lines += ["", f"Dask against one process on 1 thread: {inf['speedup_vs_1_thread']:.2f}x. Rows/s is the batch "
              f"job on a running cluster; starting it (the temporary Prefect server, then 2 worker processes "
              f"importing torch and the app) took {dask['cluster_start_seconds']:.1f} s, and the whole Dask run, start-up and the Prefect "
              f"subflow included, {dask['wall_seconds_with_cluster_start']:.1f} s. Same summaries in every mode: "
              f"{'yes' if inf['same_outputs'] else 'no'}.", "",
              "## Training (summarization fine-tuning, demo config, global batch 32)", "",
              "| processes | steps/s | speedup |", "|---|---:|---:|",
              f"| 1 (2 threads) | {tr['1p']['steps_per_s']:.2f} | 1.00x |",
              f"| 2 (torchrun, gloo, 1 thread each) | {tr['2p']['steps_per_s']:.2f} | {tr['speedup']:.2f}x |", "",
              f"Steps/s from the difference between a {tr['steps'][0]}- and a {tr['steps'][1]}-step run of each.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script, not the machine")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefect-bench-"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    import torch

    torch.set_num_threads(2)
    work = WORK / ("scaling-quick" if args.quick else "scaling")
    work.mkdir(parents=True, exist_ok=True)
    peak = matmul_peak((512,) if args.quick else (1024, 2048, 3072))
    report = {"machine": cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version(),
              "matmul_peak_gflops": peak, "command": " ".join(["python benchmarks/scaling.py", *sys.argv[1:]])}
    report["training"] = bench_training(work, args.quick)
    report["inference"] = bench_inference(work, args.quick)
    RESULTS.mkdir(exist_ok=True)
    name = "scaling-quick" if args.quick else "scaling"
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
