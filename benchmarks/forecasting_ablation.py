"""Forecasting settings compared on the VALIDATION window only (never the held-out test windows):
what the shipped configs turn on is chosen here.

    python benchmarks/forecasting_ablation.py naive                              # the default config
    python benchmarks/forecasting_ablation.py seasonal model.skip=seasonal       # a named variant: overrides
    python benchmarks/forecasting_ablation.py ft_lr1e-4 train.lr=0.0001 --init runs/forecasting/base/best  # fine-tuning
    python benchmarks/forecasting_ablation.py --report                           # rewrite the markdown only

Each variant trains its config on data before the validation window and scores its best checkpoint
on that window (the ``horizon`` steps before the held-out windows): MASE per dataset and the mean.
A variant already in the JSON is skipped. Writes ``benchmarks/results/forecasting_ablation.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.forecasting.app import APP  # noqa: E402
from apps.forecasting.data import load_prepared  # noqa: E402
from apps.forecasting.train import split_series, validation_scores  # noqa: E402
from shared.model_folder import load_model  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def run_variant(name: str, overrides: list[str], config: str, work: Path, init: str | None = None) -> dict:
    cfg = APP.load_config(config, overrides)
    data_dir = APP.prepare(cfg, work / "data")
    trained = APP.train(cfg, data_dir, work / name, resume=True, init=init)
    series = split_series(load_prepared(data_dir, cfg.data.datasets), cfg.data.horizon, cfg.data.n_windows)
    scores = validation_scores(load_model(trained.model_dir).model, cfg, series)
    return {"variant": name, "config": config, "overrides": overrides, "init": init, "steps": trained.steps,
            "train_seconds": trained.seconds, "val_mase": {str(k): float(v) for k, v in scores.items()},
            "mean": float(scores.mean())}


def report(runs: list[dict]) -> str:
    datasets = sorted({d for r in runs for d in r["val_mase"]})
    lines = ["## Forecasting: settings compared on the validation window (MASE, lower is better)", "",
             "One window of `horizon` steps per series, just before the held-out test windows; the test windows "
             "are read by `benchmarks/forecasting.py` alone.", "",
             "| variant | " + " | ".join(datasets) + " | mean | train_seconds |", "|---|" + "---:|" * (len(datasets) + 2)]
    for r in runs:
        cells = [f"{r['val_mase'][d]:.3f}" if d in r["val_mase"] else "–" for d in datasets]
        lines.append(f"| {r['variant']} | " + " | ".join(cells) + f" | {r['mean']:.3f} | {r['train_seconds']:.0f} |")
    lines += ["", "Variants:", ""] + [f"- `{r['variant']}` (`{r['config']}` config"
                                      + (f", fine-tuned from `{r['init']}`" if r.get("init") else "")
                                      + f"): `{' '.join(r['overrides']) or '(as shipped)'}`" for r in runs]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", help="the variant's name")
    parser.add_argument("overrides", nargs="*", help="config overrides, KEY=VALUE")
    parser.add_argument("--config", default="default")
    parser.add_argument("--init", default=None, help="fine-tune from this model folder (train --init)")
    parser.add_argument("--report", action="store_true", help="only rewrite the markdown from the JSON")
    parser.add_argument("--work", default="runs/bench/forecasting-ablation")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    out = Path(args.out)
    path = out / "forecasting_ablation.json"
    runs: list[dict] = json.loads(path.read_text()) if path.is_file() else []
    if not args.report:
        if not args.name:
            parser.error("give a variant name (or --report)")
        if not any(r["variant"] == args.name for r in runs):
            runs.append(run_variant(args.name, args.overrides, args.config, Path(args.work), args.init))
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(runs, indent=2) + "\n")
    text = report(runs)
    (out / "forecasting_ablation.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
