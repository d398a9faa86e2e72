"""`make demo`: every App's pipeline from nothing, in Prefect's local mode.

For each installed App (its ``in_demo`` attribute, default True, lets a slow one sit out),
the generated retrain flow runs the whole template on the App's ``demo`` config (ingest,
validate, train every stage, evaluate against the peers, register) and batch-predicts the
App's sample input (``App.sample_files``: the user's format, with a bad item that must become
an error row). Then it prints the metrics table, the verdict against the best peer and where
to look. Nothing here knows a domain.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from shared.app import App, installed_apps


def demo_apps(only: list[str] | None = None) -> list[App]:
    """The Apps the demo runs: every installed one with ``in_demo`` (or exactly ``only``)."""
    apps = installed_apps()
    if only:
        unknown = sorted(set(only) - set(apps))
        if unknown:
            from shared.errors import ConfigError

            raise ConfigError(f"unknown app(s) {unknown}; installed: {', '.join(apps)}")
        return [apps[name] for name in only]
    return [app for app in apps.values() if getattr(app, "in_demo", True)]


def run_demo(out: str = "runs/demo", only: list[str] | None = None) -> int:
    """Every demo App's pipeline, one after another; a summary of all of them at the end."""
    root = Path(out).resolve()
    apps = demo_apps(only)
    print(f"Sextant demo: {', '.join(a.name for a in apps)}. Prefect runs in local mode "
          "(its first start takes about 20 s).")
    start, results = time.perf_counter(), {}
    for app in apps:
        results[app.name] = app_demo(app, root)
    skipped = [name for name, app in installed_apps().items() if app not in apps]
    print(f"\n# All done in {(time.perf_counter() - start) / 60:.1f} min\n")
    for name, summary in results.items():
        print(f"  {name:<14} {summary['verdict']}")
    print(f"\nEverything is under {root}/ (summary.json lists every path). Models: {root / 'registry'}.")
    if skipped:
        print("Not in the demo (slower): " + ", ".join(f"`sextant {name} train --config demo`" for name in skipped))
    (root / "summary.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


def app_demo(app: App, root: Path) -> dict[str, Any]:
    """One App's retrain flow on its demo config, with a batch job on its sample input."""
    from pipelines.flows import FLOWS

    retrain = FLOWS[f"{app.name.replace('-', '_')}_retrain"]
    cfg = app.load_config("demo")
    sample = app.sample_files(root / "incoming" / app.name)
    steps = ", ".join(f"{stage} {getattr(cfg.train, stage).max_steps if stage != 'train' else cfg.train.max_steps} steps"
                      for stage in app.stages)
    print(f"\n# {app.name}: {app.title}\n({steps}; demo config, a short run: benchmarks/ has the full-quality ones)")
    start = time.perf_counter()
    summary = retrain(config="demo", prepared=str(root / "data" / app.name), run_root=str(root / app.name),
                      registry=str(root / "registry"), batch_input=sample.predict_input)
    minutes = (time.perf_counter() - start) / 60
    metric, mode = summary["metric"], app.mode
    print(f"\nHeld out: {summary['split_rule']}. {metric}: {'lower' if mode == 'min' else 'higher'} is better.\n")
    if summary.get("metrics_md") and Path(summary["metrics_md"]).is_file():
        print(Path(summary["metrics_md"]).read_text())
    summary["verdict"] = _verdict(summary, metric, mode)
    print(f"Ours: {summary['verdict']}")
    reg, batch = summary["registered"], summary.get("batch") or {}
    print(f"Registry: {reg['name']} {reg['version']} "
          f"{'promoted to champion' if reg['promoted'] else 'kept as challenger'} ({reg['reason']}).")
    print(f"Batch predict on {sample.predict_input}: {batch.get('line', 'skipped')}")
    print(f"Finished in {minutes:.1f} min. Where to look:")
    print(f"  metrics table    {summary.get('metrics_md')}")
    if summary.get("plot"):
        print(f"  plot             {summary['plot']}")
    print(f"  model folder     {summary['trained'][app.stages[-1]]['model_dir']}")
    if batch:
        files = ", ".join(f"{k}: {v}" for k, v in (batch.get("files") or {}).items())
        print(f"  predictions      {batch.get('output_dir')}/  (errors.jsonl{'; ' + files if files else ''})")
    print(f"  Prefect          artifacts '{app.name}-metrics' and '{app.name}-plot' on the flow run")
    return summary


def _verdict(summary: dict[str, Any], metric: str, mode: str) -> str:
    ours = summary["ours"].get(metric)
    peer = (summary.get("best_peer_scores") or {}).get(metric)
    if ours is None or peer is None:
        return f"{metric} {ours if ours is not None else 'n/a'} (no peer scored)"
    better = ours < peer if mode == "min" else ours > peer
    return (f"{metric} {ours:.4g}; it {'beats' if better else 'does not beat'} the best peer "
            f"({summary['best_peer']}, {peer:.4g})")
