"""Summarization benchmark: ours against lead-1, lead-3 and sumy's LexRank, TextRank and LSA.

    python benchmarks/summarization.py                      # pretrain + fine-tune the default config, then score
    python benchmarks/summarization.py --reuse runs/bench/summarization   # score a trained run again
    python benchmarks/summarization.py --quick              # tiny config: a smoke test of this script

Test sets, the same documents for every model: the Debian test split (package groups never
trained or pretrained on), the 305 research abstract -> title pairs (a transfer set: never
trained on), and long Wikipedia articles from gensim's shortened dump (body -> lead section;
read in encoder-window chunks, nothing cut below the model's chunk limit). ROUGE-1/2/L F1 x 100
(``rouge-score``, stemmed) and mean summary length in words; documents per second over each set
(ours: batched beam search; peers: one document at a time, they are cheap). The peers get one
sentence on the headline-style sets and three on Wikipedia, where the reference is a lead
section; ours decodes up to 40 tokens, and 20-96 tokens on Wikipedia.

Writes ``benchmarks/results/summarization.json`` and ``summarization.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.summarization.app import APP  # noqa: E402
from apps.summarization.data import validate  # noqa: E402
from apps.summarization.metrics import evaluate_model, markdown_table  # noqa: E402
from benchmarks.core import cpu_name, matmul_peak  # noqa: E402

RESULTS = Path(__file__).parent / "results"
WORK = Path("runs/bench")
SET_NAMES = {"test": "Debian test split", "abstracts": "abstract -> title", "wikipedia": "Wikipedia body -> lead"}


def markdown(r: dict) -> str:
    t, p = r["train"], r["pretrain"]
    lines = [
        "# Summarization benchmark", "",
        f"Machine: {r['machine']}, {r['threads']} threads; fp32 matmul peak measured in this run: "
        f"**{r['matmul_peak_gflops']:.1f} GFLOP/s**. Command: `{r['command']}`.", "",
        f"Data: {json.dumps(r['data']['pairs'])} pairs; {r['data_spec'].get('pretrain_passages')} pretraining passages "
        "(training-split Debian descriptions + gensim's Lee background corpus).", "",
        f"Pretraining (gap sentences): {p.get('steps')} steps in {p.get('seconds', 0) / 60:.1f} min, held-out loss "
        f"{p.get('best_metric')}. Fine-tuning: {t.get('steps')} steps in {t.get('seconds', 0) / 60:.1f} min "
        f"({t.get('examples_per_second', 0):.1f} pairs/s); validation ROUGE-L {t.get('best_metric')}.", "",
    ]
    for name, label in SET_NAMES.items():
        rows = [x for x in r["scores"]["table"] if x["set"] == name]
        if rows:
            note = r["scores"]["inputs"].get(name, {})
            lines += [f"## {label}", "", markdown_table(rows),
                      f"Inputs: median {note.get('median_input_tokens')} tokens; up to {note.get('max_chunks_used')} "
                      f"encoder chunks; {note.get('truncated_documents')} documents truncated.", ""]
    if r.get("samples"):
        lines += ["#" + r["samples"]]  # evaluate's samples.md, one heading level down
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny config: checks the script, not the model")
    parser.add_argument("--reuse", default=None, help="a benchmark work folder holding pretrain/ and train/")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = parser.parse_args()
    torch.set_num_threads(2)
    peak = matmul_peak((512,) if args.quick else (1024, 2048, 3072))
    print(f"matmul peak: {peak:.1f} GFLOP/s")
    cfg = APP.load_config("tiny" if args.quick else "default", args.set)
    data = WORK / "data" / APP.prepared_dir(cfg).name if args.quick else APP.prepared_dir(cfg)
    if not APP.is_prepared(cfg, data):
        APP.prepare(cfg, data)
    work = Path(args.reuse) if args.reuse else WORK / ("summarization-quick" if args.quick else "summarization")
    report: dict = {"machine": cpu_name(), "python": platform.python_version(), "threads": torch.get_num_threads(),
                    "matmul_peak_gflops": peak, "command": " ".join(["python benchmarks/summarization.py", *sys.argv[1:]]),
                    "data": validate(cfg, data),
                    "data_spec": json.loads((Path(data) / "dataset.json").read_text())}
    if args.reuse:
        report["pretrain"] = json.loads((work / "pretrain" / "pretrain_summary.json").read_text())
        report["train"] = json.loads((work / "train" / "train_summary.json").read_text())
    else:
        pretrained = APP.train(cfg, data, work / "pretrain", "pretrain")
        APP.train(cfg, data, work / "train", "train", init=pretrained.model_dir)
        report["pretrain"] = json.loads((work / "pretrain" / "pretrain_summary.json").read_text())
        report["train"] = json.loads((work / "train" / "train_summary.json").read_text())
    start = time.perf_counter()
    report["scores"] = evaluate_model(cfg, report["train"]["model_dir"], data, work / "evaluate")
    report["evaluate_seconds"] = time.perf_counter() - start
    report["samples"] = (work / "evaluate" / "samples.md").read_text()
    RESULTS.mkdir(exist_ok=True)
    name = "summarization-quick" if args.quick else "summarization"
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
