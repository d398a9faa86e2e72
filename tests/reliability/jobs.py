"""The batch jobs the kill suite runs: one definition for ``tests/reliability/test_kills.py``
(3 kills each, in CI) and ``benchmarks/reliability.py`` (20 each).

Each job uses its app's tiny model (``tests/reliability/tiny_models.py``), writes its input
(bad rows included) and gives the command line that writes the job's output to a folder.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.reliability.faults import compare_outputs, kill_until_done, watched_run
from tests.reliability.tiny_models import tiny_model

ROOT = Path(__file__).resolve().parents[2]
Command = Callable[[Path], list[str]]  # output folder -> command line


@dataclass(frozen=True)
class BatchJob:
    name: str
    slug: str
    prepare: Callable[[Path, Path], Command]  # (work folder, tiny models folder) -> command builder
    key: tuple[str, ...] = ("row_id",)  # what identifies one output record
    shards: int | None = None  # how many shards the input makes, when the test pins it
    same_files: tuple[str, ...] = ()  # further outputs that must come out identical
    volatile: tuple[str, ...] = ()  # record fields that differ run to run (timings), left out of the comparison


def _predict(app: str, *args: str) -> list[str]:
    """``sextant <app> predict ARGS`` in a fresh Python process."""
    return [sys.executable, "-m", "shared.cli", app, "predict", *args]


def _synthetic(rows: int) -> Callable[[Path], Command]:
    def prepare(work: Path, models: Path) -> Command:
        return lambda out: [sys.executable, str(ROOT / "tests" / "reliability" / "slow_batch.py"), str(out), str(rows)]

    return prepare


def _forecasting(work: Path, models: Path) -> Command:
    """A tiny forecasting model and a CSV of 1,500 series (3 of them too short)."""
    import pandas as pd

    tiny = tiny_model("forecasting", models)
    base = pd.read_parquet(tiny.data / "airpassengers.parquet")
    frames = [base.assign(unique_id=f"s{i:04d}", y=base["y"] * (1 + i / 1500)) for i in range(1497)]
    frames += [base.head(3).assign(unique_id=f"short{i}") for i in range(3)]
    pd.concat(frames).to_csv(work / "panel.csv", index=False)
    return lambda out: _predict("forecasting", str(work / "panel.csv"), "--model", str(tiny.model), "--out", str(out),
                                "--series", "s0000")


def _summarization(work: Path, models: Path) -> Command:
    """A tiny summarizer and a JSONL of 190 Debian test documents plus 2 bad lines."""
    from apps.summarization.data import load_set

    tiny = tiny_model("summarization", models)
    docs = [p.document for p in load_set(tiny.data, "test")]
    docs = (docs * (192 // len(docs) + 1))[:190]
    lines = [json.dumps({"id": f"d{i:03d}", "document": d}) for i, d in enumerate(docs)]
    lines += [json.dumps({"id": "empty", "document": "  "}), json.dumps({"id": "number", "document": 7})]
    (work / "docs.jsonl").write_text("\n".join(lines) + "\n")
    return lambda out: _predict("summarization", str(work / "docs.jsonl"), "--model", str(tiny.model), "--out", str(out),
                                "--format", "jsonl", "--beams", "4", "--max-length", "32")


def _image_folder(sources: list[Path], folder: Path, stem: str, truncate_at: int) -> Path:
    """190 copies of ``sources`` (cycled) plus a truncated and an empty PNG."""
    folder.mkdir()
    for i in range(190):
        shutil.copy(sources[i % len(sources)], folder / f"{stem}-{i:03d}.png")
    (folder / "truncated.png").write_bytes(sources[0].read_bytes()[:truncate_at])
    (folder / "empty.png").write_bytes(b"")
    return folder


def _vision(work: Path, models: Path) -> Command:
    """A tiny segmentation/detection model and a folder of 190 test tiles plus 2 corrupt files."""
    tiny = tiny_model("vision", models)
    images = _image_folder(sorted(Path(tiny.data, "test").glob("*.png")), work / "images", "tile", 100)
    return lambda out: _predict("vision", str(images), "--model", str(tiny.model), "--out", str(out), "--no-flips")


def _ocr(work: Path, models: Path) -> Command:
    """A tiny line model and a folder of 190 rendered test lines plus 2 corrupt files."""
    tiny = tiny_model("ocr", models)
    lines = _image_folder(sorted(Path(tiny.data, "images", "test").glob("*.png")), work / "lines", "line", 80)
    return lambda out: _predict("ocr", str(lines), "--model", str(tiny.model), "--out", str(out), "--format", "jsonl")


def _speech(work: Path, models: Path) -> Command:
    """A tiny ASR model and a folder of 190 generated test clips plus a corrupt and an empty file."""
    from apps.speech.data import load_split

    tiny = tiny_model("speech-asr", models)
    clips = [Path(e.audio_filepath) for e in load_split(tiny.data, "test")]
    folder = work / "clips"
    folder.mkdir()
    for i in range(190):
        shutil.copy(clips[i % len(clips)], folder / f"clip-{i:03d}.wav")
    (folder / "truncated.wav").write_bytes(clips[0].read_bytes()[:30])
    (folder / "empty.wav").write_bytes(b"")
    return lambda out: _predict("speech-asr", str(folder), "--model", str(tiny.model), "--out", str(out), "--decode", "greedy")


def _molecules(work: Path, models: Path) -> Command:
    """A tiny graph model and a CSV of 6,000 SMILES (the dataset's, cycled) plus 3 invalid ones: 3 shards of 2,048."""
    import pandas as pd

    tiny = tiny_model("molecules", models)
    smiles = pd.read_parquet(next(tiny.data.glob("*.parquet")))["smiles"].tolist()
    rows = [smiles[i % len(smiles)] for i in range(6000)] + ["C1CC", "not a molecule", ""]
    pd.DataFrame({"smiles": rows}).to_csv(work / "molecules.csv", index=False)
    return lambda out: _predict("molecules", str(work / "molecules.csv"), "--model", str(tiny.model), "--out", str(out),
                                "--mc-samples", "2")


def batch_jobs(synthetic_rows: int) -> list[BatchJob]:
    """Every job of the kill suite, in a fixed order (job ``i`` uses seed ``base + i``)."""
    return [
        BatchJob(f"shared runner (synthetic, {synthetic_rows:,} rows)", "synthetic", _synthetic(synthetic_rows)),
        BatchJob("forecasting predict (1,500 series)", "forecasting", _forecasting, key=("row_id", "step")),
        BatchJob("summarization (192 documents)", "summarization", _summarization, shards=3,
                 same_files=("summaries.jsonl",)),
        BatchJob("vision predict (192 images)", "vision", _vision, shards=3),
        BatchJob("OCR predict (192 line images)", "ocr", _ocr, shards=3),
        BatchJob("speech-asr predict (192 clips)", "speech-asr", _speech, shards=3, volatile=("compute_seconds", "rtf")),
        BatchJob("molecules predict (6,003 SMILES)", "molecules", _molecules, shards=3),
    ]


def run_job(job: BatchJob, work: Path, models: Path, kills: int, seed: int, sequences: int = 1) -> dict:
    """Prepare ``job`` in ``work`` (tiny models trained under ``models``) and run it once
    uninterrupted. Then, ``sequences`` times, in a fresh output folder each: kill it (``kills``
    in all, split evenly) and rerun it to the end. A rerun resumes, so the kills of one sequence
    crowd towards its last shard; several sequences spread them from start-up to the end.
    Returns the comparisons with the uninterrupted output, summed over the sequences."""
    command = job.prepare(work, models)
    reference = work / "reference"
    timeline = watched_run(command(reference), reference, cwd=ROOT)
    total = {"rows": 0, "lost": 0, "duplicated": 0, "same_records": True, "same_errors": True, "same_files": True,
             "tmp_leftovers": [], "kills": 0, "runs": 0, "shards_at_kills": []}
    for i in range(sequences):
        killed = work / f"killed-{i}"
        share = kills // sequences + (1 if i < kills % sequences else 0)
        report = kill_until_done(command(killed), share, killed, timeline, seed=seed * 1000 + i, cwd=ROOT)
        found = compare_outputs(reference, killed, job.key, ignore=job.volatile)
        same_files = all((reference / f).read_bytes() == (killed / f).read_bytes() for f in job.same_files)
        total.update(rows=found["rows"], lost=total["lost"] + found["lost"],
                     duplicated=total["duplicated"] + found["duplicated"],
                     same_records=total["same_records"] and found["same_records"],
                     same_errors=total["same_errors"] and found["same_errors"],
                     same_files=total["same_files"] and same_files,
                     tmp_leftovers=total["tmp_leftovers"] + found["tmp_leftovers"],
                     kills=total["kills"] + report.kills, runs=total["runs"] + report.runs,
                     shards_at_kills=total["shards_at_kills"] + [report.shards_at_kills])
    return {**total, "sequences": sequences, "shards": timeline.shards, "seconds_uninterrupted": timeline.wall,
            "seconds_startup": timeline.startup}
