"""The vision App: validation refuses leaky splits; evaluation writes the table and picture."""

import json
from pathlib import Path

import pytest

from apps.vision.app import APP
from apps.vision.data import load_prepared
from shared.errors import DataError


def test_validate_refuses_an_image_in_two_splits(tiny_vision, tmp_path):
    data = Path(tiny_vision["data"])
    same = {"train": str(data / "instances_train.json"), "valid": str(data / "instances_valid.json"),
            "test": str(data / "instances_train.json")}
    cfg = APP.load_config("tiny", [f"data.coco.{k}={v}" for k, v in same.items()] + ["data.dataset=coco"])
    prepared = APP.prepare(cfg, tmp_path)
    with pytest.raises(DataError, match="splits overlap"):
        APP.validate(cfg, prepared)


def test_validate_reports_counts(tiny_vision):
    report = APP.validate(tiny_vision["cfg"], tiny_vision["data"])
    assert report.splits == {"train": 11, "valid": 2, "test": 3} and report.details["classes"] == "background, nucleus"
    assert "StarDist" in report.details["split"]


def test_evaluate_writes_metrics_for_ours_and_the_peer(tiny_vision, tmp_path):
    result = APP.evaluate(tiny_vision["cfg"], tiny_vision["model_dir"], tiny_vision["data"], tmp_path)
    rows = {row["model"]: row for row in json.loads((tmp_path / "metrics.json").read_text())}
    assert set(rows) == {"ours", "otsu_watershed"} and result.metric == "instance_f1"
    # the classic peer is deterministic and its numbers on split seed 0 are known
    assert rows["otsu_watershed"]["instance_f1"] == pytest.approx(0.745, abs=0.001)
    assert "| ours |" in (tmp_path / "metrics.md").read_text()
    assert result.registry_name == "vision-nuclei" and result.best_peer == "otsu_watershed"
    assert "tiles" in result.split_rule and Path(result.artifacts["plot"]).stat().st_size > 1000


def test_evaluate_refuses_an_unknown_peer(tiny_vision, tmp_path):
    with pytest.raises(DataError, match="unknown peer"):
        APP.evaluate(tiny_vision["cfg"], tiny_vision["model_dir"], tiny_vision["data"], tmp_path, ["yolo"])


def test_unseeded_foreground_blobs_score_their_highest_heat():
    import numpy as np

    from apps.vision.predict import Detections, instance_labels

    foreground = np.zeros((16, 16), bool)
    foreground[2:8, 2:8] = True
    heat = np.zeros((4, 4), np.float32)
    heat[1, 1] = 0.8
    none = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
    labels, scores, seeds = instance_labels(foreground, heat, none)
    assert labels.max() == 1 and 0.5 < scores[0] <= 0.8 and seeds.tolist() == [-1]


def test_detect_task_scores_boxes_only(tiny_vision):
    from apps.vision.metrics import score_predictions
    from apps.vision.predict import predict_images
    from shared.model_folder import load_model

    data = load_prepared(tiny_vision["data"])
    test = data.samples["test"]
    preds = predict_images(load_model(tiny_vision["model_dir"]).model, [s.image for s in test])
    detect = score_predictions(preds, test, "detect", data.truth["test"], data.labels.semantic)
    both = score_predictions(preds, test, "both", data.truth["test"], data.labels.semantic)
    assert set(detect) == {"box_map", "box_map50"}
    assert {"miou", "fg_iou", "instance_f1", "mask_map50"} <= set(both)


def test_the_registry_name_follows_the_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert APP.registry_name(APP.load_config("tiny")) == "vision-nuclei"
    assert APP.registry_name(APP.load_config("scenes")) == "vision-scenes"
    (tmp_path / "my cells.json").write_text("{}")
    assert APP.registry_name(APP.with_data(APP.load_config("tiny"), "my cells.json")) == "vision-my-cells"
