"""Reading lines: CTC decoding, confidences, a tiny model that learns 10 lines exactly; and the batch
job: lines and pages, bad images become error rows, overlays, and a killed job resumes."""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from apps.ocr.config import DecodeConfig
from apps.ocr.data import LineDataset, LineRow, collate_lines, load_split
from apps.ocr.datasets.fonts import family_fonts
from apps.ocr.datasets.render import render_line
from apps.ocr.images import read_image, write_png
from apps.ocr.model import LineRecognizerModel, OcrModelConfig
from apps.ocr.page import compose_page
from apps.ocr.predict import LineReader, OcrPredictor, ctc_confidence
from apps.ocr.train import line_tokenizer
from shared.app import run_predictor
from shared.ctc import greedy_decode
from shared.inference import read_outputs
from shared.text_metrics import cer


def _log_probs(path: list[int], vocab: int = 6, p: float = 0.9) -> torch.Tensor:
    rows = torch.full((len(path), vocab), (1 - p) / (vocab - 1))
    rows[torch.arange(len(path)), torch.tensor(path)] = p
    return rows.log()


def test_greedy_decoding_collapses_repeats_and_drops_blanks():
    # frames: a a _ a b b _ _ b  ->  a a b b  (a blank separates a true repeat)
    assert greedy_decode(_log_probs([4, 4, 0, 4, 5, 5, 0, 0, 5])) == [4, 4, 5, 5]
    assert greedy_decode(_log_probs([0, 0, 0])) == []


def test_confidence_is_the_geometric_mean_of_the_emitting_frames():
    lp = _log_probs([4, 4, 0, 5], p=0.8)
    assert math.isclose(ctc_confidence(lp, [4, 5]), 0.8, rel_tol=1e-5)
    assert math.isclose(ctc_confidence(_log_probs([0, 0], p=0.6), []), 0.6, rel_tol=1e-5)


@pytest.mark.slow
def test_a_tiny_model_overfits_ten_lines_to_cer_zero():
    torch.manual_seed(0)
    font = family_fonts("comic-neue")[0]
    texts = ["cat sat", "dog ran", "Go 42", "red box", "tea pot", "map it", "sun up", "buy now", "ok 7", "zip fox"]
    rows = [LineRow(t, group="comic-neue", font=font.path, seed=i) for i, t in enumerate(texts)]
    tokenizer = line_tokenizer(texts)
    model = LineRecognizerModel(OcrModelConfig(vocab_size=tokenizer.vocab_size, d_model=64, n_heads=4, layers=2,
                                               d_ff=128, channels=(16, 32, 32)))
    batch = collate_lines([LineDataset(rows, tokenizer.encode, 32, 800)[i] for i in range(10)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(300):
        loss, _ = model.joint_loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    reader = LineReader(model, tokenizer, None, DecodeConfig(method="greedy"))
    images = [render_line(t, font, np.random.default_rng(i)) for i, t in enumerate(texts)]
    found = [r.text for r in reader.read(images)]
    assert cer(texts, found) == 0.0, found
    assert all(0.5 < r.confidence <= 1.0 for r in reader.read(images))


def _images(folder: Path, data_dir: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(load_split(data_dir, "test")[:5]):
        shutil.copy(row.image, folder / f"line{i}.png")
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (folder / "empty.jpg").write_bytes(b"")
    return folder


def test_bad_images_are_error_rows_and_the_rest_is_read(tiny_ocr, tmp_path):
    images = _images(tmp_path / "in", tiny_ocr["data"])
    predictor = OcrPredictor(tiny_ocr["model"], overlay=True, decode=DecodeConfig(method="greedy"))
    summary = run_predictor(predictor, [str(images)], tmp_path / "out", progress=False)
    assert summary["rows"] == 7 and summary["succeeded"] == 5 and summary["errors"] == 2
    errors = {json.loads(x)["row_id"]: json.loads(x)["reason"] for x in (tmp_path / "out/errors.jsonl").read_text().splitlines()}
    assert set(errors) == {"corrupt.png", "empty.jpg"} and all("not a readable image" in r for r in errors.values())
    records = [json.loads(x) for x in (tmp_path / "out/lines.jsonl").read_text().splitlines()]
    assert [r["row_id"] for r in records] == [f"line{i}.png" for i in range(5)]
    assert all(0 <= r["confidence"] <= 1 and isinstance(r["text"], str) for r in records)
    assert read_image(tmp_path / "out/overlays/line0.png").shape[0] > 10
    assert summary["files"] == {"lines": str(tmp_path / "out/lines.jsonl"), "text": str(tmp_path / "out/lines.txt"),
                                "overlays": str(tmp_path / "out/overlays")}
    assert len((tmp_path / "out/lines.txt").read_text().splitlines()) == 5


def test_a_killed_job_resumes_without_losing_or_duplicating(tiny_ocr, tmp_path):
    images = _images(tmp_path / "in", tiny_ocr["data"])
    predictor = OcrPredictor(tiny_ocr["model"], decode=DecodeConfig(method="greedy"), shard_size=2)
    run_predictor(predictor, [str(images)], tmp_path / "out", progress=False)
    before = read_outputs(tmp_path / "out")
    (tmp_path / "out/shard-00001.jsonl").unlink()  # as if the job died while writing the second shard
    again = run_predictor(predictor, [str(images)], tmp_path / "out", progress=False)
    assert again["skipped_shards"] == 3 and again["written_shards"] == 1
    assert read_outputs(tmp_path / "out") == before


def test_page_mode_reads_every_line_in_order(tiny_ocr, tmp_path):
    font = family_fonts("comic-neue")[0]
    texts = ["Perl interface for operations on sets", "command-line accounting program", "fast library for code"]
    lines = [render_line(text, font, np.random.default_rng(i)) for i, text in enumerate(texts)]
    page = compose_page(lines, np.random.default_rng(0), skew_degrees=2.0)
    write_png(tmp_path / "pages/page.png", page.image)
    predictor = OcrPredictor(tiny_ocr["model"], page=True, overlay=True, decode=DecodeConfig(method="beam", beam_size=2))
    summary = run_predictor(predictor, [str(tmp_path / "pages")], tmp_path / "out", progress=False)
    records = read_outputs(tmp_path / "out")
    assert summary["succeeded"] == 1 and [r["line"] for r in records] == [0, 1, 2]
    tops = [r["box"][0] for r in records]
    assert tops == sorted(tops) and abs(records[0]["skew_degrees"] - 2.0) < 0.5
    assert (tmp_path / "out/overlays/page.png").is_file()
    assert [x.split("\t")[0] for x in (tmp_path / "out/lines.txt").read_text().splitlines()] == \
        [f"{tmp_path / 'pages/page.png'}:{i}" for i in range(3)]


def test_parquet_shards_gather_the_same_lines(tiny_ocr, tmp_path):
    images = _images(tmp_path / "in", tiny_ocr["data"])
    predictor = OcrPredictor(tiny_ocr["model"], decode=DecodeConfig(method="greedy"), fmt="parquet")
    summary = run_predictor(predictor, [str(images)], tmp_path / "out", progress=False)
    assert summary["succeeded"] == 5 and list((tmp_path / "out").glob("shard-*.parquet"))
    assert len((tmp_path / "out/lines.jsonl").read_text().splitlines()) == 5
