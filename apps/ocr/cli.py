"""``sextant-ocr``: prepare, train and evaluate the handwriting OCR model; read lines and pages."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared import distributed
from shared.errors import SextantError

EXAMPLES = """examples:
  sextant-ocr prepare --config demo                  # render lines in Debian handwriting fonts + digit strings
  sextant-ocr train --config demo --run runs/ocr
  sextant-ocr train --config demo --run runs/ocr-ddp --nproc 2          # data-parallel, 2 processes (torchrun)
  sextant-ocr evaluate --config demo --model runs/ocr/best      # per-font CER/WER next to tesseract
  sextant-ocr read line.png --model runs/ocr/best               # prints the text and its confidence
  sextant-ocr read scans/ --page --overlay --model runs/ocr/best --out ocr-out/
  sextant-ocr read scans/ --model runs/ocr/best --decode greedy --format jsonl
  sextant-ocr train --set dataset=lines lines.train=train.tsv lines.valid=valid.tsv lines.test=test.tsv

Your own data: a TSV of 'image<TAB>text' lines or a JSONL of {"image": ..., "text": ...} per split,
image paths relative to the file. read writes lines.jsonl (text and confidence per line; with --page
also the line number and box) and errors.jsonl for unreadable images; a rerun resumes where a killed
job stopped. --overlay writes overlays/<image>.png with the text under each detected line.
"""


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="sextant-ocr", description="Handwriting OCR with a transformer "
                                     "trained from scratch: lines and pages.", epilog=EXAMPLES, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("prepare", "render or reference a dataset"), ("train", "train the line model (best: RUN/best)"),
                       ("evaluate", "per-font test metrics next to tesseract, with an overlay PNG")):
        p = sub.add_parser(name, help=text, epilog=EXAMPLES, formatter_class=fmt)
        p.add_argument("--config", default="default", help="default, demo, tiny, or a YAML path")
        p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. fit.train.max_steps=100")
        p.add_argument("--data", default=None, help="data root (default: the config's cache_dir)")
        if name == "train":
            p.add_argument("--run", default="runs/ocr/cli")
            p.add_argument("--resume", action="store_true")
            distributed.add_nproc_option(p)
        if name == "evaluate":
            p.add_argument("--model", required=True)
            p.add_argument("--out", default=None)
    p = sub.add_parser("read", help="image(s) to text: files, folders or manifests (resumable)",
                       epilog=EXAMPLES, formatter_class=fmt)
    p.add_argument("inputs", nargs="+", help="line or page images, folders, or .txt/.jsonl manifests")
    p.add_argument("--model", required=True, help="an OCR model folder")
    p.add_argument("--out", default="ocr-out", help="output folder (lines.jsonl, errors.jsonl, overlays/)")
    p.add_argument("--page", action="store_true", help="each image is a page: deskew, find lines, read them in order")
    p.add_argument("--overlay", action="store_true", help="write overlays/<image>.png with the text under each line")
    p.add_argument("--decode", choices=["greedy", "beam", "attention"], default="beam")
    p.add_argument("--beam", type=int, default=8)
    p.add_argument("--no-lm", action="store_true", help="beam search without the character LM")
    p.add_argument("--format", choices=["text", "jsonl"], default="text", help="what to print on standard output")
    return parser


def _print_records(path: Path, fmt: str) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if fmt == "jsonl":
            print(line)
        else:
            where = record["image"] + (f":{record['line']}" if "line" in record else "")
            print(f"{where}\t{record['confidence']:.2f}\t{record['text']}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "read":
            from apps.ocr.batch import read_paths
            from apps.ocr.read import LineReader, ReadConfig

            config = ReadConfig(method=args.decode, beam_size=args.beam, use_lm=not args.no_lm)
            summary = read_paths(LineReader.from_folder(args.model, config), args.inputs, args.out, args.page,
                                 args.overlay)
            _print_records(Path(args.out) / "lines.jsonl", args.format)
            print(summary.line(), file=sys.stderr)
            print(f"lines: {args.out}/lines.jsonl (errors: {args.out}/errors.jsonl)"
                  + (f"; overlays: {args.out}/overlays/" if args.overlay else ""), file=sys.stderr)
            return summary.exit_code
        from apps.ocr import steps

        cfg = steps.config(args.config, list(args.set))
        data = (steps.prepare_data if args.command == "prepare" else steps.ensure_prepared)(cfg, args.data)
        if args.command == "prepare":
            print(json.dumps({"data": data, **steps.validate_data(cfg, data)}, indent=2))
            return 0
        if args.command == "train":
            if (code := distributed.run_under_torchrun_if_asked(args.nproc, "apps.ocr.cli", argv)) is not None:
                return code
            result = steps.train_model(cfg, data, args.run, resume=args.resume)
            if distributed.current().is_main:
                print(json.dumps(result, indent=2))
            return 0
        out = args.out or str(Path(args.model).parent / "evaluate")
        result = steps.evaluate_model(cfg, args.model, data, out)
        print(Path(out, "metrics.md").read_text(), end="")
        print(f"tables: {out}/metrics.md; test lines with our reading: {result['plot']}")
        return 0
    except (SextantError, ValueError, OSError, KeyError) as err:
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
