"""``sextant-forecast``: prepare, train, evaluate, backtest and predict from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared import distributed
from shared.errors import SextantError

EXAMPLES = """examples:
  sextant-forecast prepare --config demo
  sextant-forecast train --data my_series.csv --set data.horizon=6 --run runs/fc-mine   # your own series
  sextant-forecast evaluate --data my_series.csv --set data.horizon=6 --model runs/fc-mine/best
  sextant-forecast train --config demo --run runs/fc-demo
  sextant-forecast train --config default --set train.max_steps=500 model.encoder.d_model=64
  sextant-forecast train --config demo --run runs/fc-demo --resume        # continue a killed run
  sextant-forecast train --config demo --run runs/fc-ddp --nproc 2        # data-parallel, 2 processes (torchrun)
  sextant-forecast evaluate --config demo --model runs/fc-demo/best       # held-out table vs peers
  sextant-forecast backtest --config demo --model runs/fc-demo/best --peers none
  sextant-forecast predict --model runs/fc-demo/best --input my_series.csv --out forecasts/ --series airpassengers
  sextant-forecast serve                                                  # nightly retrain + hourly batch deployments

input files are long format: unique_id, ds, y (CSV or Parquet), a folder of them, or a manifest listing them.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sextant-forecast", description="Forecasting: prepare, train, evaluate, "
                                     "backtest and predict from the shell.", epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", default="default", help="default, demo, tiny, or a YAML path")
        p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. train.lr=3e-4")
        p.add_argument("--data", default=None, help="your own series: a long-format CSV/Parquet file (unique_id, ds, y) "
                       "or a folder of them (default: the config's datasets)")
        p.add_argument("--prepared", default=None, help="prepared data folder (default: under the config's cache_dir)")

    p = sub.add_parser("prepare", help="load and validate the configured datasets", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    with_config(p)
    p = sub.add_parser("train", help="train a global model (best checkpoint: RUN/best)", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    with_config(p)
    p.add_argument("--run", default="runs/forecasting/cli", help="run folder for checkpoints")
    p.add_argument("--resume", action="store_true", help="continue from RUN/last")
    distributed.add_nproc_option(p)
    for name, text in (("evaluate", "held-out metrics of a model next to every peer"),
                       ("backtest", "rolling-origin backtest (choose peers with --peers)")):
        p = sub.add_parser(name, help=text, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
        with_config(p)
        p.add_argument("--model", required=True, help="a model folder, e.g. RUN/best")
        p.add_argument("--out", default=None, help="output folder (default: MODEL/../evaluate)")
        if name == "backtest":
            p.add_argument("--peers", nargs="*", default=None, help="peer names, or 'none' (default: the config's)")
    p = sub.add_parser("predict", help="forecast every series in a file/folder/manifest", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a model folder")
    p.add_argument("--input", required=True, help="CSV/Parquet file, folder, or manifest")
    p.add_argument("--out", required=True, help="output folder (shards, errors.jsonl, forecast.png)")
    p.add_argument("--horizon", type=int, default=None, help="steps ahead (default: the model's training horizon)")
    p.add_argument("--freq", default=None, help="pandas frequency if it cannot be inferred, e.g. MS")
    p.add_argument("--series", nargs="*", default=None, help="series to plot (default: the first 6)")
    p.add_argument("--format", choices=["parquet", "jsonl"], default="parquet")
    sub.add_parser("serve", help="serve the nightly-retrain and hourly batch-forecast deployments")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args, argv)
    except (SextantError, ValueError, OSError) as err:  # OSError: missing files, a full disk
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    from apps.forecasting import steps

    if args.command == "serve":
        from pipelines.serve import serve_forecasting

        serve_forecasting()
        return 0
    if args.command == "predict":
        result = steps.predict(args.model, args.input, args.out, args.horizon, args.freq, args.series, fmt=args.format)
        print(result["line"])
        if result.get("plot"):
            print(f"plot: {result['plot']}")
        return 0 if result["exit_code"] == 0 else 1
    cfg = steps.with_user_data(steps.config(args.config, args.set), args.data)
    data = args.prepared or str(steps.prepared_dir(cfg))
    if args.command == "prepare":
        path = steps.prepare_data(cfg, data)
        report = steps.validate_data(cfg, path)
        print(json.dumps({k: v for k, v in report.items() if k != "datasets"}, indent=2))
        for name, r in report["datasets"].items():
            print(f"{name}: {r['series']} series, {r['rows']} rows" + (f"; {'; '.join(r['problems'])}" if r["problems"] else ""))
        return 0
    if not steps.is_prepared(cfg, data):
        steps.prepare_data(cfg, data)
    if args.command == "train":
        if (code := distributed.run_under_torchrun_if_asked(args.nproc, "apps.forecasting.cli", argv)) is not None:
            return code
        result = steps.train_model(cfg, data, args.run, resume=args.resume)
        if distributed.current().is_main:
            print(json.dumps(result, indent=2))
        return 0
    out = args.out or str(Path(args.model).resolve().parent.parent / args.command)
    peers = None
    if args.command == "backtest" and args.peers is not None:
        peers = [] if args.peers in ([], ["none"]) else args.peers
    result = steps.evaluate_model(cfg, args.model, data, out, peers)
    print(Path(out, "metrics.md").read_text())
    print(f"plot: {result['plot']}\ntables: {out}/metrics.json, {out}/windows.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
