"""Batch OCR: lines and pages, bad images become error rows, overlays, and a killed job resumes."""

import json
import shutil
from pathlib import Path

import numpy as np

from apps.ocr.batch import read_paths
from apps.ocr.fonts import family_fonts
from apps.ocr.images import read_image, write_png
from apps.ocr.page import compose_page
from apps.ocr.read import LineReader, ReadConfig
from apps.ocr.render import render_line
from apps.ocr.steps import load_split
from shared.inference import read_outputs


def _images(folder: Path, data_dir: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(load_split(data_dir, "test")[:5]):
        shutil.copy(row.image, folder / f"line{i}.png")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "empty.jpg").write_bytes(b"")
    return folder


def test_bad_images_are_error_rows_and_the_rest_is_read(tiny_ocr, tmp_path):
    images = _images(tmp_path / "in", tiny_ocr["data"])
    reader = LineReader.from_folder(tiny_ocr["model"], ReadConfig(method="greedy"))
    summary = read_paths(reader, [images], tmp_path / "out", overlay=True, progress=False)
    assert summary.rows == 7 and summary.succeeded == 5 and summary.errors == 2
    errors = {json.loads(x)["row_id"]: json.loads(x)["reason"] for x in (tmp_path / "out/errors.jsonl").read_text().splitlines()}
    assert set(errors) == {"corrupt.png", "empty.jpg"} and all("not a readable image" in r for r in errors.values())
    records = [json.loads(x) for x in (tmp_path / "out/lines.jsonl").read_text().splitlines()]
    assert [r["row_id"] for r in records] == [f"line{i}.png" for i in range(5)]
    assert all(0 <= r["confidence"] <= 1 and isinstance(r["text"], str) for r in records)
    assert read_image(tmp_path / "out/overlays/line0.png").shape[0] > 10


def test_a_killed_job_resumes_without_losing_or_duplicating(tiny_ocr, tmp_path):
    images = _images(tmp_path / "in", tiny_ocr["data"])
    reader = LineReader.from_folder(tiny_ocr["model"], ReadConfig(method="greedy"))
    read_paths(reader, [images], tmp_path / "out", progress=False, shard_size=2)
    before = read_outputs(tmp_path / "out")
    (tmp_path / "out/shard-00001.jsonl").unlink()  # as if the job died while writing the second shard
    again = read_paths(reader, [images], tmp_path / "out", progress=False, shard_size=2)
    assert again.skipped_shards == 3 and again.written_shards == 1
    assert read_outputs(tmp_path / "out") == before


def test_page_mode_reads_every_line_in_order(tiny_ocr, tmp_path):
    font = family_fonts("comic-neue")[0]
    texts = ["Perl interface for operations on sets", "command-line accounting program", "fast library for code"]
    lines = [render_line(text, font, np.random.default_rng(i)) for i, text in enumerate(texts)]
    page = compose_page(lines, np.random.default_rng(0), skew_degrees=2.0)
    write_png(tmp_path / "pages/page.png", page.image)
    reader = LineReader.from_folder(tiny_ocr["model"], ReadConfig(method="beam", beam_size=2))
    summary = read_paths(reader, [tmp_path / "pages"], tmp_path / "out", page=True, overlay=True, progress=False)
    records = read_outputs(tmp_path / "out")
    assert summary.succeeded == 1 and [r["line"] for r in records] == [0, 1, 2]
    tops = [r["box"][0] for r in records]
    assert tops == sorted(tops) and abs(records[0]["skew_degrees"] - 2.0) < 0.5
    assert (tmp_path / "out/overlays/page.png").is_file()
