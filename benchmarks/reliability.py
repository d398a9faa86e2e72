"""Reliability benchmark: batch jobs and training runs SIGKILLed at seeded moments and rerun
until they finish, and malformed input of every kind through every app's batch CLI.

    python benchmarks/reliability.py          # 20 kills per batch job (5 sequences of 4), 5 per training run (~15 min)
    python benchmarks/reliability.py --kills 3 --sequences 1 --train-kills 2   # about what CI runs (tests/reliability)

Batch jobs (``tests/reliability/jobs.py``, shared with the CI test): the shared runner on a
CPU-bound synthetic job, and every app's batch CLI with its tiny model (forecasting 1,500
series, summarization 192 documents, vision 192 images, OCR 192 line images, speech 192 clips,
molecules 6,003 SMILES; bad rows included). Each runs once uninterrupted, noting when each
shard appeared; then, in a fresh output folder, it is killed ``--kills`` times at seeded
moments from start-up to the last shard (``tests/reliability/faults.py``) and rerun until it
finishes. The outputs are compared: rows lost, rows duplicated, identical records and error
rows, leftover temporaries.

Training (``tests/reliability/training_jobs.py``): each app's ``train`` CLI on its tiny config,
killed ``--train-kills`` times after seeded checkpoints and resumed with ``--resume``; the
final step, metric and weights are compared with an uninterrupted run's.

The benchmark clears ``SEXTANT_ALLOWED_ROOTS``, so path rules are measured at their defaults.

Bad input (``tests/reliability/bad_inputs.py``): 15 to 18 kinds per app, each next to good
rows; a kind is handled cleanly when it gives the expected error row, repaired record or
one-line refusal and the good rows are predicted.

Writes ``benchmarks/results/reliability.json`` and ``reliability.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.core import cpu_name  # noqa: E402
from tests.reliability.bad_inputs import BUILDERS, run_app, tally  # noqa: E402
from tests.reliability.jobs import batch_jobs, run_job  # noqa: E402
from tests.reliability.training_jobs import METRIC_RTOL, TRAIN_JOBS, kill_and_resume  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def run(kills: int, sequences: int, train_kills: int, seed: int) -> dict:
    os.environ.pop("SEXTANT_ALLOWED_ROOTS", None)
    work = Path(tempfile.mkdtemp(prefix="sextant-reliability-"))
    models = work / "tiny-models"
    batch, training, bad = [], [], {}
    try:
        for index, job in enumerate(batch_jobs(synthetic_rows=1024)):
            (work / job.slug).mkdir()
            found = run_job(job, work / job.slug, models, kills, seed=seed + index, sequences=sequences)
            print(f"batch {job.slug}: {found['kills']} kills, lost {found['lost']}, duplicated {found['duplicated']}",
                  flush=True)
            batch.append({"job": job.name, "app": job.slug, "kills": found["kills"], "runs": found["runs"],
                          "rows": found["rows"], "lost": found["lost"], "duplicated": found["duplicated"],
                          "same_records": found["same_records"], "same_errors": found["same_errors"],
                          "same_files": found["same_files"], "shards": found["shards"],
                          "shards_at_kills": found["shards_at_kills"],
                          "tmp_leftovers": len(found["tmp_leftovers"]),
                          "seconds_uninterrupted": round(found["seconds_uninterrupted"], 2)})
        for index, job in enumerate(TRAIN_JOBS):
            found = kill_and_resume(job, work / f"train-{job.app}", models, train_kills, seed=seed + index)
            print(f"training {job.app}: {found['kills']} kills, steps {found['steps']}/{found['expected_steps']}",
                  flush=True)
            training.append(found)
        for app, build in BUILDERS.items():
            results = run_app(build(models), work / f"bad-{app}")
            for found in results:  # temporary paths say nothing in a committed report
                found["detail"] = found["detail"].replace(str(work), "<work>")
            print(f"bad input {app}: {tally(results)}", flush=True)
            bad[app] = {**tally(results), "kinds": results}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"machine": cpu_name(), "python": platform.python_version(), "kills_per_batch_job": kills,
            "kill_sequences_per_batch_job": sequences,
            "kills_per_training_run": train_kills, "metric_rtol": METRIC_RTOL, "seed": seed,
            "command": " ".join(["python benchmarks/reliability.py", *sys.argv[1:]]),
            "per_app": per_app(batch, training, bad), "batch": batch, "training": training, "bad_input": bad}


def per_app(batch: list[dict], training: list[dict], bad: dict) -> list[dict]:
    """One line per app: faults injected and survived, rows lost and duplicated, bad-input kinds."""
    rows = []
    for app in [b["app"] for b in batch]:
        jobs = [b for b in batch if b["app"] == app]
        trains = [t for t in training if t["app"] == app]
        kinds = bad.get(app, {"tried": 0, "clean": 0, "crashed": 0})
        survived = sum(b["kills"] for b in jobs if b["same_records"] and b["same_errors"] and b["same_files"]
                       and not b["lost"] and not b["duplicated"] and not b["tmp_leftovers"])
        survived += sum(t["kills"] for t in trains if t["same_metric"] and t["checkpoints_whole"]
                        and t["steps"] == t["expected_steps"] and t["max_weight_difference"] == 0.0)
        rows.append({"app": app, "faults": sum(b["kills"] for b in jobs) + sum(t["kills"] for t in trains),
                     "survived": survived, "lost": sum(b["lost"] for b in jobs),
                     "duplicated": sum(b["duplicated"] for b in jobs), "bad_tried": kinds["tried"],
                     "bad_clean": kinds["clean"], "bad_crashed": kinds["crashed"]})
    return rows


def markdown(r: dict) -> str:
    yes = {True: "yes", False: "NO"}
    lines = ["# Reliability benchmark", "",
             f"Machine: {r['machine']}. Command: `{r['command']}` (seed {r['seed']}): {r['kills_per_batch_job']} "
             f"SIGKILLs per batch job (in {r['kill_sequences_per_batch_job']} sequences, each from a fresh output folder "
             f"to a finished job), {r['kills_per_training_run']} per training run.", "",
             "## Per app", "",
             "Faults are SIGKILLs of the app's batch job and of its training run; a fault is survived when the "
             "rerun or resume ended with the uninterrupted run's output.", "",
             "| app | faults injected | runs survived | rows lost | rows duplicated | bad-input kinds tried | "
             "handled cleanly | crashed |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for a in r["per_app"]:
        name = "shared runner (synthetic job)" if a["app"] == "synthetic" else a["app"]
        lines.append(f"| {name} | {a['faults']} | {a['survived']} | {a['lost']} | {a['duplicated']} | "
                     f"{a['bad_tried'] or '-'} | {a['bad_clean'] if a['bad_tried'] else '-'} | "
                     f"{a['bad_crashed'] if a['bad_tried'] else '-'} |")
    lines += ["", "## Batch jobs killed and rerun", "",
              "| job | kills | shards on disk at each kill, by sequence (of all) | records | lost | duplicated | same records | "
              "same error rows | leftover .tmp |", "|---|---:|---|---:|---:|---:|---|---|---:|"]
    for j in r["batch"]:
        at = "; ".join(", ".join(map(str, seq)) for seq in j["shards_at_kills"]) + f" (of {j['shards']})"
        lines.append(f"| {j['job']} | {j['kills']} | {at} | {j['rows']:,} | {j['lost']} | {j['duplicated']} | "
                     f"{yes[j['same_records']]} | {yes[j['same_errors']]} | {j['tmp_leftovers']} |")
    lines += ["", f"## Training killed and resumed (metric tolerance: relative {r['metric_rtol']:g})", "",
              "| app | kills | last checkpoint at each kill | steps (uninterrupted) | metric | resumed | uninterrupted | "
              "max weight difference | checkpoints whole |", "|---|---:|---|---|---|---:|---:|---:|---|"]
    for t in r["training"]:
        lines.append(f"| {t['app']} | {t['kills']} | {', '.join(map(str, t['last_checkpoint_at_kills']))} | "
                     f"{t['steps']} ({t['expected_steps']}) | {t['metric']} | {t['value']:.6g} | "
                     f"{t['expected_value']:.6g} | {t['max_weight_difference']:g} | {yes[t['checkpoints_whole']]} |")
    lines += ["", "The tiny models' metrics say little (OCR's character error rate is still 1, summarization's "
              "ROUGE 0): the weights, compared tensor by tensor, are the strict check. Resume is exact on one "
              "thread."]
    lines += ["", "## Bad input, kind by kind", "",
              "Expected: `error` (an error row, the good rows predicted), `record` (repaired or accepted, finite "
              "output), `either`, or `refused` (a one-line error for the whole input).", "",
              "| app | kind | expected | outcome | clean | message |", "|---|---|---|---|---|---|"]
    for app, found in r["bad_input"].items():
        for k in found["kinds"]:
            message = k["detail"].replace("|", "\\|")
            message = message if len(message) <= 90 else message[:87] + "..."
            lines.append(f"| {app} | {k['kind']} | {k['expect']} | {k['outcome']} | {yes[k['clean']]} | {message} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs per batch job")
    parser.add_argument("--sequences", type=int, default=5,
                        help="fresh output folders the batch kills are split over (each killed, then rerun to the end)")
    parser.add_argument("--train-kills", type=int, default=5, help="SIGKILLs per training run")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    report = run(args.kills, args.sequences, args.train_kills, args.seed)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reliability.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "reliability.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
