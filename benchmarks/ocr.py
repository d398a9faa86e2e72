"""OCR benchmark: our line model against tesseract 5 per held-out font and on digit strings.

    python benchmarks/ocr.py                       # train on the default config, then score
    python benchmarks/ocr.py --reuse runs/bench/ocr   # score an already trained run (its best/)
    python benchmarks/ocr.py --quick               # tiny config, a smoke test of this script

Test lines: package synopses never trained on, drawn in three font families never seen in
training (ecolier-court, a cursive school hand; femkeklaver; dkg-handwriting) and in the
training families; digit strings written with MNIST/UCI digit images never trained on.
Tesseract (LSTM engine, English model, ``--psm 7``) reads exactly the same image files; on the
digit strings it is also run restricted to the characters digit strings use (a setup that
helps it; our model gets no such hint). The LM weight and word bonus of our beam search are
chosen on the validation lines only. Speeds: lines per second over the whole group (ours
batched; tesseract one process per 200 images), and our forward pass's GFLOP/s next to the
fp32 matmul peak measured in the same run.

Writes ``benchmarks/results/ocr.json`` and ``ocr.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.ocr.app import APP  # noqa: E402
from apps.ocr.config import DecodeConfig  # noqa: E402
from apps.ocr.data import load_split, read_spec, test_groups, validate_data  # noqa: E402
from apps.ocr.images import pad_images  # noqa: E402
from apps.ocr.metrics import scores  # noqa: E402
from apps.ocr.peers import Tesseract  # noqa: E402
from apps.ocr.predict import LineReader, timed_read  # noqa: E402
from benchmarks.core import cpu_name, matmul_peak  # noqa: E402
from shared.reporting import markdown_table as format_table  # noqa: E402
from shared.text_metrics import cer, wer  # noqa: E402

RESULTS = Path(__file__).parent / "results"
WORK = Path("runs/bench")
DIGIT_CHARS = "0123456789/-.,:()+ "
COLUMNS = ("group", "lines", "cer", "wer", "cer_caseless", "wer_caseless", "exact", "lines_per_s")


def forward_gflops(reader: LineReader, images: list, peak: float) -> dict[str, float]:
    """Achieved GFLOP/s of one batched forward pass (best of 3), and its fraction of ``peak``."""
    from torch.utils.flop_counter import FlopCounterMode

    padded, widths = pad_images(reader._inputs(images))
    batch = {"images": padded, "widths": widths}
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            reader.model(batch)
        flops = counter.get_total_flops()
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            reader.model(batch)
            best = min(best, time.perf_counter() - start)
    gflops = flops / best / 1e9
    return {"forward_gflop_per_line": flops / 1e9 / len(images), "gflops": gflops, "fraction_of_peak": gflops / peak}


def tune_decoding(reader: LineReader, data_dir: str, limit: int = 300) -> dict:
    """LM weight and word bonus chosen on validation lines (never the test split)."""
    valid = load_split(data_dir, "valid")[:limit]
    refs = [r.text for r in valid]
    log_probs = reader.log_probs([r.load() for r in valid])
    grid = []
    for weight, bonus in itertools.product((0.0, 0.2, 0.4, 0.6, 0.8), (0.0, 0.5, 1.0, 2.0)):
        reader.config = replace(reader.config, method="beam", use_lm=weight > 0, lm_weight=weight, word_bonus=bonus)
        if weight == 0 and bonus:
            continue  # without an LM the bonus is not applied
        hyps = [reader.tokenizer.decode(reader._decode(lp)).strip() for lp in log_probs]
        grid.append({"lm_weight": weight, "word_bonus": bonus, "valid_cer": cer(refs, hyps), "valid_wer": wer(refs, hyps)})
        print(f"  lm_weight {weight} word_bonus {bonus}: valid CER {grid[-1]['valid_cer']:.4f}")
    best = min(grid, key=lambda g: (g["valid_cer"], g["valid_wer"]))
    return {"best": best, "grid": grid}


def score(cfg, data_dir: str, model_dir: str, peak: float) -> dict:
    reader = LineReader.from_folder(model_dir, DecodeConfig(method="greedy"))
    tuning = tune_decoding(reader, data_dir)
    best = tuning["best"]
    variants = {"ours (greedy)": DecodeConfig(method="greedy"),
                "ours (beam + char LM)": DecodeConfig(method="beam", beam_size=cfg.decode.beam_size,
                                                    use_lm=best["lm_weight"] > 0, lm_weight=best["lm_weight"],
                                                    word_bonus=best["word_bonus"])}
    tesseract, digits_only = Tesseract(), Tesseract(whitelist=DIGIT_CHARS.strip())
    rows = []
    groups = test_groups(data_dir, cfg.evaluate.test_limit)
    for group, lines in groups.items():
        refs, images = [r.text for r in lines], [r.load() for r in lines]
        for name, read in variants.items():
            reader.config = read
            found, speed = timed_read(reader, images)
            rows.append({"model": name, "group": group, "lines": len(lines),
                         **scores(refs, [f.text for f in found]), "lines_per_s": speed})
            print(rows[-1])
        peers = [("tesseract", tesseract)] + ([("tesseract (digit characters only)", digits_only)]
                                             if group == "digits" else [])
        for name, peer in peers:
            start = time.perf_counter()
            texts = peer.read_files([r.image for r in lines])
            rows.append({"model": name, "group": group, "lines": len(lines), **scores(refs, texts),
                         "lines_per_s": len(lines) / (time.perf_counter() - start)})
            print(rows[-1])
    sample = [r.load() for r in next(iter(groups.values()))[:32]]
    return {"rows": rows, "decode_tuning": tuning, "speed": forward_gflops(reader, sample, peak),
            "tesseract": tesseract.version()}


def markdown(r: dict) -> str:
    s, t = r["scores"], r["train"]
    best = s["decode_tuning"]["best"]
    held_out = ", ".join(r["data_spec"].get("held_out_families", []))
    lines = [
        "# OCR benchmark", "",
        f"Machine: {r['machine']}, {r['threads']} threads; fp32 matmul peak measured in this run: "
        f"**{r['matmul_peak_gflops']:.1f} GFLOP/s**. Command: `{r['command']}`. Peer: {s['tesseract']} "
        "(LSTM, `eng`, `--psm 7`) on the same image files.", "",
        f"Held-out font families (never drawn for training or validation): {held_out}. The `training fonts` "
        "group is the training families on test sentences; `digits` are dates, amounts and phone numbers "
        "written with MNIST/UCI digit images never trained on, separators in held-out fonts.", "",
        f"Training: {t.get('steps')} steps in {t.get('train_seconds', 0) / 60:.1f} min "
        f"({t.get('lines_per_second', 0):.1f} lines/s, lines drawn on the fly); validation CER {t.get('val_metric')}. "
        f"Beam + LM settings chosen on validation: LM weight {best['lm_weight']}, word bonus {best['word_bonus']} "
        f"(valid CER {best['valid_cer']:.4f}).", "",
        format_table(s["rows"], COLUMNS, ("lines",)),
        f"Our forward pass: {s['speed']['gflops']:.1f} GFLOP/s ({s['speed']['forward_gflop_per_line']:.2f} GFLOP a line), "
        f"{s['speed']['fraction_of_peak']:.0%} of the matmul peak. `exact` = share of lines read exactly "
        "(for digits: the digit-string exact match).", "",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny config: checks the script, not the model")
    parser.add_argument("--reuse", default=None, help="a trained run folder (its best/) to score instead of training")
    args = parser.parse_args()
    torch.set_num_threads(2)
    peak = matmul_peak((512,) if args.quick else (1024, 2048, 3072))
    print(f"matmul peak: {peak:.1f} GFLOP/s")
    cfg = APP.load_config("tiny" if args.quick else "default")
    data = WORK / "data" if args.quick else APP.prepared_dir(cfg)
    if not APP.is_prepared(cfg, data):
        APP.prepare(cfg, data)
    report: dict = {"machine": cpu_name(), "python": platform.python_version(), "threads": torch.get_num_threads(),
                    "matmul_peak_gflops": peak, "command": " ".join(["python benchmarks/ocr.py", *sys.argv[1:]]),
                    "data": validate_data(data), "data_spec": read_spec(data)}
    if args.reuse:
        summary = Path(args.reuse) / "train_summary.json"
        train = {**(json.loads(summary.read_text()) if summary.is_file() else {}),
                 "model_dir": str(Path(args.reuse) / "best"), "reused": args.reuse}
    else:
        run = WORK / ("ocr-quick" if args.quick else "ocr")
        APP.train(cfg, data, run)
        train = json.loads((run / "train_summary.json").read_text())
    report["train"] = train
    report["scores"] = score(cfg, data, train["model_dir"], peak)
    RESULTS.mkdir(exist_ok=True)
    name = "ocr-quick" if args.quick else "ocr"
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
