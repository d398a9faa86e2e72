"""The OCR App on the tiny config: held-out fonts stay held out, evaluation compares with tesseract on the
same images, and a user's own line images train and evaluate."""

import json
from pathlib import Path

import numpy as np
import pytest

from apps.ocr.app import APP
from apps.ocr.data import SEEN, load_split, validate_data
from apps.ocr.datasets.fonts import family_fonts
from apps.ocr.datasets.render import render_line
from apps.ocr.images import write_png
from shared.errors import DataError


def test_prepared_data_keeps_held_out_fonts_and_test_sentences_out_of_training(tiny_ocr):
    cfg, data = tiny_ocr["cfg"], tiny_ocr["data"]
    report = validate_data(data)
    held_out = set(cfg.data.rendered.held_out)
    assert not held_out & set(report["groups"]["train"]) and not held_out & set(report["groups"]["valid"])
    assert held_out | {"digits", SEEN} == set(report["groups"]["test"])
    train = load_split(data, "train")
    assert all(r.image is None and r.font for r in train)  # drawn on demand
    assert all(Path(r.image).is_file() for r in load_split(data, "test"))
    lm_text = set((Path(data) / "lm.txt").read_text().splitlines())
    assert not lm_text & {r.text for r in load_split(data, "test")}
    summary = APP.validate(cfg, Path(data))
    assert summary.splits == report["lines"] and summary.items == sum(report["lines"].values())
    assert "held-out font families" in summary.details["split rule"]
    assert APP.is_prepared(cfg, Path(data)) and not APP.is_prepared(cfg, Path(data) / "nowhere")


def test_validation_refuses_a_test_sentence_in_training(tiny_ocr, tmp_path):
    data = Path(tiny_ocr["data"])
    leak = tmp_path / "leak"
    leak.mkdir()
    spec = json.loads((data / "dataset.json").read_text())
    test_row = json.loads((data / "test.jsonl").read_text().splitlines()[0])
    train_rows = (data / "train.jsonl").read_text().splitlines()
    first = json.loads(train_rows[0]) | {"text": test_row["text"]}
    (leak / "train.jsonl").write_text("\n".join([json.dumps(first), *train_rows[1:]]) + "\n")
    spec["splits"] = {split: str(data / name) for split, name in spec["splits"].items()}
    spec["splits"]["train"] = str(leak / "train.jsonl")
    (leak / "dataset.json").write_text(json.dumps(spec))
    with pytest.raises(DataError, match="also trained on"):
        APP.validate(tiny_ocr["cfg"], leak)


def test_evaluation_scores_ours_and_tesseract_per_group(tiny_ocr, tmp_path):
    result = APP.evaluate(tiny_ocr["cfg"], tiny_ocr["model"], Path(tiny_ocr["data"]), tmp_path / "eval")
    groups = {row["group"] for row in result.table}
    assert {"ecolier-court", "digits", SEEN} <= groups
    assert {row["model"] for row in result.table} == {"ours", "tesseract"}
    for row in result.table:
        assert 0 <= row["cer_caseless"] <= row["cer"] + 1e-9 and 0 <= row["exact"] <= 1
    assert result.best_peer == "tesseract" and "cer_ecolier-court" in result.ours
    assert Path(result.artifacts["plot"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| tesseract | digits |" in (tmp_path / "eval/metrics.md").read_text()
    # several groups: each model also gets an overall row (line-weighted), the one promotion compares
    assert result.best_peer_scores["group"] == "overall" and result.metric == "cer" and result.mode == "min"
    lines = sum(r["lines"] for r in result.table if r["model"] == "ours" and r["group"] != "overall")
    assert result.best_peer_scores["lines"] == lines and result.ours["cer"] == pytest.approx(
        next(r["cer"] for r in result.table if r["model"] == "ours" and r["group"] == "overall"))
    assert result.registry_name == "ocr-rendered" and "held-out font families" in result.split_rule


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
    cfg = APP.with_data(APP.load_config("tiny", ["peers=[]", f"data.cache_dir={tmp_path / 'cache'}"]), str(folder))
    data = APP.prepare(cfg, APP.prepared_dir(cfg))
    assert validate_data(data)["lines"] == {"train": 4, "valid": 1, "test": 2}
    trained = APP.train(cfg, data, tmp_path / "run")
    result = APP.evaluate(cfg, trained.model_dir, data, tmp_path / "eval")
    assert result.registry_name == "ocr-lines" and [r["group"] for r in result.table] == ["all"]
    assert result.split_rule.startswith("your test file (test.tsv)")


def test_a_model_folder_can_be_fine_tuned_with_init(tiny_ocr, tmp_path):
    """--init starts from a model folder (its architecture and alphabet), e.g. the rendered set's model
    fine-tuned on the user's lines."""
    cfg = APP.load_config("tiny", ["train.max_steps=2", "model.d_model=64"])  # the init model's shape wins
    trained = APP.train(cfg, Path(tiny_ocr["data"]), tmp_path / "ft", init=tiny_ocr["model"])
    spec = json.loads((Path(trained.model_dir) / "config.json").read_text())
    assert trained.steps == 2 and (Path(trained.model_dir) / "lm.json").is_file()
    assert spec["config"]["d_model"] == 32 and spec["metadata"]["init"] == str(tiny_ocr["model"])
