"""``sextant-molecules``: prepare, train, evaluate and predict molecular properties."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared import distributed
from shared.errors import SextantError

EXAMPLES = """examples:
  sextant-molecules prepare --set dataset=freesolv split=random
  sextant-molecules train --set dataset=freesolv split=random --run runs/mol-freesolv
  sextant-molecules train --config demo --run runs/molecules-ddp --nproc 2  # data-parallel, 2 processes (torchrun)
  sextant-molecules train --set kind=smiles dataset=solubility split=shipped --run runs/mol-smiles
  sextant-molecules evaluate --set dataset=freesolv split=random --model runs/mol-freesolv/best
  sextant-molecules predict molecules.csv --smiles-col smiles --model runs/mol-freesolv/best --out preds/

datasets: solubility (split shipped|random|scaffold), freesolv, b3db_regression, b3db_classification.
"""


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="sextant-molecules", description="Molecular property prediction: "
                                     "graph and SMILES transformers against random-forest peers.", epilog=EXAMPLES,
                                     formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("prepare", "clean and split a dataset"), ("train", "train a model (best: RUN/best)"),
                       ("evaluate", "test metrics of a model next to the peers")):
        p = sub.add_parser(name, help=text, epilog=EXAMPLES, formatter_class=fmt)
        p.add_argument("--config", default="default", help="default, tiny, or a YAML path")
        p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. dataset=freesolv")
        p.add_argument("--data", default=None, help="prepared data folder (default: the config's cache_dir)")
        if name == "train":
            p.add_argument("--run", default="runs/molecules/cli")
            p.add_argument("--resume", action="store_true")
            distributed.add_nproc_option(p)
        if name == "evaluate":
            p.add_argument("--model", required=True)
            p.add_argument("--out", default=None)
    p = sub.add_parser("predict", help="predict every SMILES in a CSV (resumable; bad rows -> errors.jsonl)",
                       epilog=EXAMPLES, formatter_class=fmt)
    p.add_argument("input", help="CSV file, folder, or manifest")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--smiles-col", default="smiles")
    p.add_argument("--mc-samples", type=int, default=10, help="MC dropout passes for the std column")
    p.add_argument("--format", choices=["parquet", "jsonl"], default="parquet")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from apps.molecules import steps

        if args.command == "predict":
            result = steps.predict_file(args.model, args.input, args.out, args.smiles_col, args.mc_samples, args.format)
            print(result["line"])
            return result["exit_code"]
        cfg = steps.config(args.config, args.set)
        data = args.data or cfg.cache_dir
        if args.command == "prepare" or not Path(data, f"{cfg.dataset}-{cfg.split}-{cfg.seed}.json").is_file():
            steps.prepare_data(cfg, data)
            if args.command == "prepare":
                print(json.dumps(steps.validate_data(cfg, data), indent=2))
                return 0
        if args.command == "train":
            if (code := distributed.run_under_torchrun_if_asked(args.nproc, "apps.molecules.cli", argv)) is not None:
                return code
            result = steps.train_model(cfg, data, args.run, resume=args.resume)
            if distributed.current().is_main:
                print(json.dumps(result, indent=2))
            return 0
        out = args.out or str(Path(args.model).resolve().parent.parent / "evaluate")
        result = steps.evaluate_model(cfg, args.model, data, out)
        for row in result["table"]:
            print(json.dumps(row))
        print(f"best peer: {result['best_peer']}; tables: {out}/metrics.json" + (f"; plot: {result['plot']}" if result["plot"] else ""))
        return 0
    except (SextantError, ValueError, OSError) as err:  # OSError: missing files, a full disk
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
