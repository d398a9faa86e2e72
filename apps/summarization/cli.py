"""``sextant-summarize``: summarize documents; prepare, pretrain, train and evaluate the model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared import distributed
from shared.errors import SextantError

COMMANDS = ("prepare", "pretrain", "train", "evaluate", "summarize")
EXAMPLES = """examples:
  sextant-summarize prepare --config demo                    # Debian pairs, transfer sets, BPE tokenizer
  sextant-summarize pretrain --config demo --run runs/summ/pretrain          # gap-sentence pretraining
  sextant-summarize train --config demo --run runs/summ/train --init runs/summ/pretrain/best
  sextant-summarize train --config demo --run runs/summarization-ddp --nproc 2  # data-parallel, 2 processes (torchrun)
  sextant-summarize evaluate --config demo --model runs/summ/train/best      # ROUGE next to every peer
  sextant-summarize docs.jsonl --model runs/summ/train/best --out summaries/
  sextant-summarize report.txt --model runs/summ/train/best --max-length 60 --min-length 10
  sextant-summarize train --set dataset=pairs pairs.train=a.jsonl pairs.valid=b.jsonl pairs.test=c.jsonl

Input: a JSONL of {"document": ..., "id": ...} lines, a .txt file, or a folder of .txt files. Output:
summaries.jsonl (summary, input tokens, chunks read; truncated_tokens when a document was longer than
the model reads) and errors.jsonl for empty, binary or non-UTF-8 documents; a rerun resumes where a
killed job stopped. Lengths count tokens (about 1.3 per word).
"""


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="sextant-summarize", description="Abstractive summarization with a "
                                     "transformer pretrained from scratch, with copying.", epilog=EXAMPLES,
                                     formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("prepare", "write the splits, transfer sets, pretraining passages and tokenizer"),
                       ("pretrain", "gap-sentence pretraining (best: RUN/best)"),
                       ("train", "fine-tune on pairs (best: RUN/best)"),
                       ("evaluate", "ROUGE on every test set next to every peer, with a bar chart")):
        p = sub.add_parser(name, help=text, epilog=EXAMPLES, formatter_class=fmt)
        p.add_argument("--config", default="default", help="default, demo, tiny, or a YAML path")
        p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. fit.finetune.max_steps=100")
        p.add_argument("--data", default=None, help="data root (default: the config's cache_dir)")
        if name in ("pretrain", "train"):
            p.add_argument("--run", default=f"runs/summarization/{name}")
            p.add_argument("--resume", action="store_true")
            distributed.add_nproc_option(p)
        if name == "train":
            p.add_argument("--init", default=None, help="a pretrained model folder to start from")
        if name == "evaluate":
            p.add_argument("--model", required=True)
            p.add_argument("--out", default=None)
    p = sub.add_parser("summarize", help="summarize a JSONL, a .txt file or a folder (resumable)", epilog=EXAMPLES,
                       formatter_class=fmt)
    p.add_argument("inputs", nargs="+", help="JSONL files, .txt files or folders of .txt files")
    p.add_argument("--model", required=True, help="a summarization model folder")
    p.add_argument("--out", default="summaries", help="output folder (summaries.jsonl, errors.jsonl)")
    p.add_argument("--max-length", type=int, default=40, help="most summary tokens (default 40)")
    p.add_argument("--min-length", type=int, default=3, help="fewest summary tokens (default 3)")
    p.add_argument("--beams", type=int, default=4)
    p.add_argument("--no-repeat-ngram", type=int, default=3)
    p.add_argument("--length-penalty", type=float, default=1.0)
    p.add_argument("--format", choices=["text", "jsonl"], default="text", help="what to print on standard output")
    return parser


def _summarize(args: argparse.Namespace) -> int:
    from apps.summarization.batch import summarize_paths
    from apps.summarization.summarize import DecodeConfig, Summarizer

    decode = DecodeConfig(num_beams=args.beams, length_penalty=args.length_penalty,
                          no_repeat_ngram_size=args.no_repeat_ngram, min_length=args.min_length,
                          max_length=args.max_length)
    decode.generation()  # checks the lengths before the model loads
    summary = summarize_paths(Summarizer.from_folder(args.model, decode), args.inputs, args.out)
    for line in (Path(args.out) / "summaries.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        cut = f"\t(read {record['input_tokens'] - record['truncated_tokens']} of {record['input_tokens']} tokens)" \
            if record.get("truncated_tokens") else ""
        print(line if args.format == "jsonl" else f"{record['id']}\t{record['summary']}{cut}")
    print(summary.line(), file=sys.stderr)
    print(f"summaries: {args.out}/summaries.jsonl (errors: {args.out}/errors.jsonl)", file=sys.stderr)
    return summary.exit_code


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        argv = ["summarize", *argv]  # sextant-summarize FILE|DIR|JSONL ...
    args = _parser().parse_args(argv)
    try:
        if args.command == "summarize":
            return _summarize(args)
        from apps.summarization import steps

        cfg = steps.config(args.config, list(args.set))
        data = (steps.prepare_data if args.command == "prepare" else steps.ensure_prepared)(cfg, args.data)
        if args.command == "prepare":
            print(json.dumps({"data": data, **steps.validate_data(cfg, data)}, indent=2))
            return 0
        if args.command == "pretrain":
            if (code := distributed.run_under_torchrun_if_asked(args.nproc, "apps.summarization.cli", argv)) is not None:
                return code
            result = steps.pretrain_model(cfg, data, args.run, resume=args.resume)
            if distributed.current().is_main:
                print(json.dumps(result, indent=2))
            return 0
        if args.command == "train":
            if (code := distributed.run_under_torchrun_if_asked(args.nproc, "apps.summarization.cli", argv)) is not None:
                return code
            result = steps.train_model(cfg, data, args.run, args.init, resume=args.resume)
            if distributed.current().is_main:
                print(json.dumps(result, indent=2))
            return 0
        out = args.out or str(Path(args.model).parent / "evaluate")
        result = steps.evaluate_model(cfg, args.model, data, out)
        print(Path(out, "metrics.md").read_text(), end="")
        print(f"tables: {out}/metrics.md; samples: {out}/samples.md; chart: {result['plot']}")
        return 0
    except (SextantError, ValueError, OSError, KeyError) as err:
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
