"""Reliability benchmark: batch jobs SIGKILLed at random moments and rerun until they finish.

    python benchmarks/reliability.py               # 20 seeded kills per job (about 10 minutes)
    python benchmarks/reliability.py --kills 3     # what CI runs (tests/reliability)

Jobs: the shared batch runner on a CPU-bound synthetic job (error rows and a repeated row id
included), the forecasting app's ``predict`` CLI on 1,500 series (3 too short), the summarization CLI
on 192 documents (2 bad), the vision ``predict`` CLI on 192 images and the OCR ``read`` CLI
on 192 line images (2 corrupt each), with tiny models. Each job
runs once uninterrupted; then, in a fresh output folder, it is killed ``--kills`` times (each
kill waits for a seeded random number of shards, between those already written and the last,
plus up to one shard's share of the uninterrupted run time) and rerun until it finishes. The outputs are
compared: rows lost, rows duplicated, identical records and error rows, leftover temporaries.

Writes ``benchmarks/results/reliability.json`` and ``reliability.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.core import cpu_name  # noqa: E402
from tests.reliability.faults import compare_outputs, kill_until_done, shard_count, timed_run  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _jobs(work: Path) -> dict:
    """Job name -> (record key, function(output folder) -> command line)."""
    synthetic = [sys.executable, str(ROOT / "tests" / "reliability" / "slow_batch.py")]

    def forecasting_setup():
        import pandas as pd

        from apps.forecasting import steps

        cfg = steps.config("tiny")
        data = steps.prepare_data(cfg, work / "fc-data")
        model = steps.train_model(cfg, data, work / "fc-train")["model_dir"]
        base = pd.read_parquet(work / "fc-data" / "airpassengers.parquet")
        frames = [base.assign(unique_id=f"s{i:04d}", y=base["y"] * (1 + i / 1500)) for i in range(1497)]
        frames += [base.head(3).assign(unique_id=f"short{i}") for i in range(3)]
        pd.concat(frames).to_csv(work / "panel.csv", index=False)
        return model

    def summarization_setup():
        from apps.summarization import steps

        cfg = steps.config("tiny")
        data = steps.prepare_data(cfg, work / "summ-data", progress=False)
        model = steps.train_model(cfg, data, work / "summ-run")["model_dir"]
        docs = [p.document for p in steps.load_set(data, "test")]
        docs = (docs * (192 // len(docs) + 1))[:190]
        lines = [json.dumps({"id": f"d{i:03d}", "document": d}) for i, d in enumerate(docs)]
        lines += [json.dumps({"id": "empty", "document": "  "}), json.dumps({"id": "number", "document": 7})]
        (work / "docs.jsonl").write_text("\n".join(lines) + "\n")
        return model

    def vision_setup():
        from apps.vision import steps

        cfg = steps.config("tiny")
        data = steps.prepare_data(cfg, work / "vision-data")
        model = steps.train_model(cfg, data, work / "vision-run")["model_dir"]
        tiles = sorted(Path(data, "test").glob("*.png"))
        (work / "images").mkdir()
        for i in range(190):
            shutil.copy(tiles[i % len(tiles)], work / "images" / f"tile-{i:03d}.png")
        (work / "images" / "truncated.png").write_bytes(tiles[0].read_bytes()[:100])
        (work / "images" / "empty.png").write_bytes(b"")
        return model

    def ocr_setup():
        from apps.ocr import steps

        cfg = steps.config("tiny")
        data = steps.prepare_data(cfg, work / "ocr-data", progress=False)
        model = steps.train_model(cfg, data, work / "ocr-run")["model_dir"]
        lines = sorted(Path(data, "images", "test").glob("*.png"))
        (work / "lines").mkdir()
        for i in range(190):
            shutil.copy(lines[i % len(lines)], work / "lines" / f"line-{i:03d}.png")
        (work / "lines" / "truncated.png").write_bytes(lines[0].read_bytes()[:80])
        (work / "lines" / "empty.png").write_bytes(b"")
        return model

    model = forecasting_setup()
    summarizer = summarization_setup()
    segmenter = vision_setup()
    reader = ocr_setup()
    return {
        "shared runner (synthetic, 1,000 rows)": (("row_id",), lambda out: [*synthetic, str(out), "1000"]),
        "forecasting predict (1,500 series)": (("row_id", "step"), lambda out: [
            sys.executable, "-m", "apps.forecasting.cli", "predict", "--model", model, "--input",
            str(work / "panel.csv"), "--out", str(out), "--series", "s0000"]),
        "summarization (192 documents)": (("row_id",), lambda out: [
            sys.executable, "-m", "apps.summarization.cli", str(work / "docs.jsonl"), "--model", summarizer,
            "--out", str(out), "--format", "jsonl", "--beams", "2", "--max-length", "12"]),
        "vision predict (192 images)": (("row_id",), lambda out: [
            sys.executable, "-m", "apps.vision.cli", "predict", str(work / "images"), "--model", segmenter,
            "--out", str(out), "--no-flips"]),
        "OCR read (192 line images)": (("row_id",), lambda out: [
            sys.executable, "-m", "apps.ocr.cli", "read", str(work / "lines"), "--model", reader, "--out", str(out),
            "--format", "jsonl"]),
    }


def run(kills: int, seed: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="sextant-reliability-"))
    rows = []
    try:
        for index, (name, (key, command)) in enumerate(_jobs(work).items()):
            reference, killed = work / f"job{index}-reference", work / f"job{index}-killed"
            wall = timed_run(command(reference), cwd=ROOT)
            shards = shard_count(reference)
            report = kill_until_done(command(killed), kills, killed, shards, seed=seed + index,
                                     jitter=wall / shards, cwd=ROOT)
            found = compare_outputs(reference, killed, key)
            rows.append({"job": name, "kills": report.kills, "runs": report.runs, "rows": found["rows"],
                         "lost": found["lost"], "duplicated": found["duplicated"],
                         "same_records": found["same_records"], "same_errors": found["same_errors"],
                         "tmp_leftovers": len(found["tmp_leftovers"]), "seconds_uninterrupted": wall})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"machine": cpu_name(), "python": platform.python_version(), "kills_per_job": kills, "seed": seed,
            "command": " ".join(["python benchmarks/reliability.py", *sys.argv[1:]]), "jobs": rows}


def markdown(r: dict) -> str:
    lines = ["# Reliability benchmark", "", f"Machine: {r['machine']}. Command: `{r['command']}` (seed {r['seed']}).", "",
             "| job | kills | runs | records | lost | duplicated | same records | same error rows | leftover .tmp |",
             "|---|---:|---:|---:|---:|---:|---|---|---:|"]
    for j in r["jobs"]:
        lines.append(f"| {j['job']} | {j['kills']} | {j['runs']} | {j['rows']} | {j['lost']} | {j['duplicated']} | "
                     f"{'yes' if j['same_records'] else 'NO'} | {'yes' if j['same_errors'] else 'NO'} | "
                     f"{j['tmp_leftovers']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs per job")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    report = run(args.kills, args.seed)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reliability.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "reliability.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
