"""SIGKILL a batch job at random moments, rerun it until it finishes, and compare with an
uninterrupted run: no row lost or duplicated, identical records and error rows, no leftovers.

CI runs 3 seeded kills per job; ``benchmarks/reliability.py`` runs the full suite (20+ per app).
"""

import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.reliability.faults import compare_outputs, kill_until_done, shard_count, timed_run

ROOT = Path(__file__).resolve().parents[2]
KILLS = 3


def _check(reference: Path, recovered: Path, report, key: tuple[str, ...] = ("row_id",)) -> None:
    assert report.kills == KILLS
    found = compare_outputs(reference, recovered, key)
    assert (found["lost"], found["duplicated"], found["tmp_leftovers"]) == (0, 0, []), found
    assert found["same_records"] and found["same_errors"], found


def test_shared_runner_survives_kills(tmp_path):
    job = [sys.executable, str(ROOT / "tests" / "reliability" / "slow_batch.py")]
    wall = timed_run([*job, str(tmp_path / "reference"), "400"], cwd=ROOT)
    shards = shard_count(tmp_path / "reference")
    report = kill_until_done([*job, str(tmp_path / "killed"), "400"], KILLS, tmp_path / "killed", shards,
                             seed=0, jitter=wall / shards, cwd=ROOT)
    _check(tmp_path / "reference", tmp_path / "killed", report)


@pytest.fixture(scope="module")
def forecasting_job(tmp_path_factory):
    """A tiny forecasting model and a CSV of 1,500 series (3 of them bad)."""
    from apps.forecasting import steps

    root = tmp_path_factory.mktemp("kill-forecast")
    cfg = steps.config("tiny")
    data = steps.prepare_data(cfg, root / "data")
    model = steps.train_model(cfg, data, root / "train")["model_dir"]
    base = pd.read_parquet(root / "data" / "airpassengers.parquet")
    frames = [base.assign(unique_id=f"s{i:04d}", y=base["y"] * (1 + i / 1500)) for i in range(1497)]
    frames += [base.head(3).assign(unique_id=f"short{i}") for i in range(3)]
    csv = root / "panel.csv"
    pd.concat(frames).to_csv(csv, index=False)
    return root, model, csv


def test_forecasting_batch_survives_kills(forecasting_job):
    root, model, csv = forecasting_job

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "apps.forecasting.cli", "predict", "--model", model, "--input", str(csv),
                "--out", str(out), "--series", "s0000"]

    wall = timed_run(command(root / "reference"), cwd=ROOT)
    shards = shard_count(root / "reference")
    report = kill_until_done(command(root / "killed"), KILLS, root / "killed", shards, seed=1,
                             jitter=wall / shards, cwd=ROOT)
    _check(root / "reference", root / "killed", report, key=("row_id", "step"))


@pytest.fixture(scope="module")
def summarization_job(tmp_path_factory):
    """A tiny summarizer and a JSONL of 192 Debian test documents (3 shards), 2 of them bad."""
    import json

    from apps.summarization import steps

    root = tmp_path_factory.mktemp("kill-summ")
    cfg = steps.config("tiny")
    data = steps.prepare_data(cfg, root / "data", progress=False)
    model = steps.train_model(cfg, data, root / "run")["model_dir"]
    docs = [json.dumps({"id": p.id, "document": p.document}) for p in steps.load_set(data, "test")]
    docs = (docs * (192 // len(docs) + 1))[:190]
    docs = [json.dumps({"id": f"d{i:03d}", "document": json.loads(d)["document"]}) for i, d in enumerate(docs)]
    docs += [json.dumps({"id": "empty", "document": "  "}), json.dumps({"id": "number", "document": 7})]
    inputs = root / "docs.jsonl"
    inputs.write_text("\n".join(docs) + "\n")
    return root, model, inputs


def test_summarization_batch_survives_kills(summarization_job):
    root, model, inputs = summarization_job

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "apps.summarization.cli", str(inputs), "--model", model, "--out", str(out),
                "--format", "jsonl", "--beams", "2", "--max-length", "12"]

    wall = timed_run(command(root / "reference"), cwd=ROOT)
    shards = shard_count(root / "reference")
    assert shards == 3
    report = kill_until_done(command(root / "killed"), KILLS, root / "killed", shards, seed=2,
                             jitter=wall / shards, cwd=ROOT)
    _check(root / "reference", root / "killed", report)
    assert (root / "killed" / "summaries.jsonl").read_text() == (root / "reference" / "summaries.jsonl").read_text()


@pytest.fixture(scope="module")
def vision_job(tmp_path_factory):
    """A tiny segmentation/detection model and a folder of 190 test tiles plus 2 corrupt files (3 shards)."""
    import shutil

    from apps.vision import steps

    root = tmp_path_factory.mktemp("kill-vision")
    cfg = steps.config("tiny")
    data = steps.prepare_data(cfg, root / "data")
    model = steps.train_model(cfg, data, root / "run")["model_dir"]
    tiles = sorted(Path(data, "test").glob("*.png"))
    images = root / "images"
    images.mkdir()
    for i in range(190):
        shutil.copy(tiles[i % len(tiles)], images / f"tile-{i:03d}.png")
    (images / "truncated.png").write_bytes(tiles[0].read_bytes()[:100])
    (images / "empty.png").write_bytes(b"")
    return root, model, images


def test_vision_batch_survives_kills(vision_job):
    root, model, images = vision_job

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "apps.vision.cli", "predict", str(images), "--model", model, "--out", str(out),
                "--no-flips"]

    wall = timed_run(command(root / "reference"), cwd=ROOT)
    shards = shard_count(root / "reference")
    assert shards == 3
    report = kill_until_done(command(root / "killed"), KILLS, root / "killed", shards, seed=3,
                             jitter=wall / shards, cwd=ROOT)
    _check(root / "reference", root / "killed", report)


@pytest.fixture(scope="module")
def ocr_job(tmp_path_factory):
    """A tiny line model and a folder of 190 rendered test lines plus 2 corrupt files (3 shards)."""
    import shutil

    from apps.ocr import steps

    root = tmp_path_factory.mktemp("kill-ocr")
    cfg = steps.config("tiny")
    data = steps.prepare_data(cfg, root / "data", progress=False)
    model = steps.train_model(cfg, data, root / "run")["model_dir"]
    lines = sorted(Path(data, "images", "test").glob("*.png"))
    images = root / "lines"
    images.mkdir()
    for i in range(190):
        shutil.copy(lines[i % len(lines)], images / f"line-{i:03d}.png")
    (images / "truncated.png").write_bytes(lines[0].read_bytes()[:80])
    (images / "empty.png").write_bytes(b"")
    return root, model, images


def test_ocr_batch_survives_kills(ocr_job):
    root, model, images = ocr_job

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "apps.ocr.cli", "read", str(images), "--model", model, "--out", str(out),
                "--format", "jsonl"]

    wall = timed_run(command(root / "reference"), cwd=ROOT)
    shards = shard_count(root / "reference")
    assert shards == 3
    report = kill_until_done(command(root / "killed"), KILLS, root / "killed", shards, seed=4,
                             jitter=wall / shards, cwd=ROOT)
    _check(root / "reference", root / "killed", report)
