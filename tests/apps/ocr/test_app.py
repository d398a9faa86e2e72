"""OCR steps on the tiny config: held-out fonts stay held out, evaluation compares with tesseract on the
same images, and a user's own line images train and evaluate."""

import json
from pathlib import Path

import numpy as np
import pytest

from apps.ocr import steps
from apps.ocr.fonts import family_fonts
from apps.ocr.images import write_png
from apps.ocr.render import render_line
from shared.errors import DataError


def test_prepared_data_keeps_held_out_fonts_and_test_sentences_out_of_training(tiny_ocr):
    cfg, data = tiny_ocr["cfg"], tiny_ocr["data"]
    report = steps.validate_data(cfg, data)
    held_out = set(cfg.rendered.held_out)
    assert not held_out & set(report["groups"]["train"]) and not held_out & set(report["groups"]["valid"])
    assert held_out | {"digits", steps.SEEN} == set(report["groups"]["test"])
    train = steps.load_split(data, "train")
    assert all(r.image is None and r.font for r in train)  # drawn on demand
    assert all(Path(r.image).is_file() for r in steps.load_split(data, "test"))
    lm_text = set((Path(data) / "lm.txt").read_text().splitlines())
    assert not lm_text & {r.text for r in steps.load_split(data, "test")}


def test_validation_refuses_a_test_sentence_in_training(tiny_ocr, tmp_path):
    data = Path(tiny_ocr["data"])
    leak = tmp_path / "leak"
    leak.mkdir()
    spec = json.loads((data / "dataset.json").read_text())
    test_row = json.loads((data / "test.jsonl").read_text().splitlines()[0])
    train_rows = (data / "train.jsonl").read_text().splitlines()
    first = json.loads(train_rows[0]) | {"text": test_row["text"]}
    (leak / "train.jsonl").write_text("\n".join([json.dumps(first), *train_rows[1:]]) + "\n")
    spec["splits"]["train"] = str(leak / "train.jsonl")
    (leak / "dataset.json").write_text(json.dumps(spec))
    with pytest.raises(DataError, match="also trained on"):
        steps.validate_data(tiny_ocr["cfg"], leak)


def test_evaluation_scores_ours_and_tesseract_per_group(tiny_ocr, tmp_path):
    result = steps.evaluate_model(tiny_ocr["cfg"], tiny_ocr["model"], tiny_ocr["data"], tmp_path / "eval")
    groups = {row["group"] for row in result["table"]}
    assert {"ecolier-court", "digits", steps.SEEN} <= groups
    assert {row["model"] for row in result["table"]} == {"ours", "tesseract"}
    for row in result["table"]:
        assert 0 <= row["cer_caseless"] <= row["cer"] + 1e-9 and 0 <= row["exact"] <= 1
    assert result["best_peer"] == "tesseract" and "cer_ecolier-court" in result["ours"]
    assert Path(result["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| tesseract | digits |" in (tmp_path / "eval/metrics.md").read_text()


def test_a_users_own_line_images_train_and_evaluate(tmp_path):
    font = family_fonts("kaushanscript")[0]
    folder = tmp_path / "mine"
    for split, texts in {"train": ["alpha beta", "gamma", "delta 4", "epsilon"], "valid": ["zeta eta"],
                         "test": ["theta", "iota kappa"]}.items():
        lines = []
        for i, text in enumerate(texts):
            write_png(folder / "img" / f"{split}{i}.png", render_line(text, font, np.random.default_rng(i)))
            lines.append(f"img/{split}{i}.png\t{text}")
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    overrides = ["dataset=lines", *(f"lines.{s}={folder / s}.tsv" for s in ("train", "valid", "test")), "peers=[]"]
    cfg = steps.config("tiny", overrides)
    data = steps.prepare_data(cfg, tmp_path / "data", progress=False)
    assert steps.validate_data(cfg, data)["lines"] == {"train": 4, "valid": 1, "test": 2}
    trained = steps.train_model(cfg, data, tmp_path / "run")
    result = steps.evaluate_model(cfg, trained["model_dir"], data, tmp_path / "eval")
    assert result["registry_name"] == "ocr-lines" and [r["group"] for r in result["table"]] == ["all"]
