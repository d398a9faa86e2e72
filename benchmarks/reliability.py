"""Reliability benchmark: batch jobs SIGKILLed at random moments and rerun until they finish.

    python benchmarks/reliability.py               # 20 seeded kills per job (about 3 minutes)
    python benchmarks/reliability.py --kills 3     # what CI runs (tests/reliability)

Jobs (``tests/reliability/jobs.py``, shared with the CI test): the shared batch runner on a
CPU-bound synthetic job (error rows and a repeated row id included), the forecasting app's
``predict`` CLI on 1,500 series (3 too short), the summarization CLI on 192 documents (2 bad),
the vision ``predict`` CLI on 192 images and the OCR ``read`` CLI on 192 line images (2 corrupt
each), with tiny models. Each job
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
from tests.reliability.jobs import batch_jobs, run_job  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def run(kills: int, seed: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="sextant-reliability-"))
    rows = []
    try:
        for index, job in enumerate(batch_jobs(synthetic_rows=1000)):
            (work / job.slug).mkdir()
            found = run_job(job, work / job.slug, work / "tiny-models", kills, seed=seed + index)
            rows.append({"job": job.name, "kills": found["kills"], "runs": found["runs"], "rows": found["rows"],
                         "lost": found["lost"], "duplicated": found["duplicated"],
                         "same_records": found["same_records"], "same_errors": found["same_errors"],
                         "tmp_leftovers": len(found["tmp_leftovers"]),
                         "seconds_uninterrupted": found["seconds_uninterrupted"]})
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
