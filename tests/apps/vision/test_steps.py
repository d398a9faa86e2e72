"""Vision pipeline steps: validation refuses leaky splits; evaluation writes the table and picture."""

import json
from pathlib import Path

import pytest

from apps.vision import steps
from shared.errors import DataError


def test_validate_refuses_an_image_in_two_splits(tiny_vision, tmp_path):
    data = Path(tiny_vision["data"])
    same = {"train": str(data / "instances_train.json"), "valid": str(data / "instances_valid.json"),
            "test": str(data / "instances_train.json")}
    cfg = steps.config("tiny", [f"coco.{k}={v}" for k, v in same.items()] + ["dataset=coco"])
    prepared = steps.prepare_data(cfg, tmp_path)
    with pytest.raises(DataError, match="splits overlap"):
        steps.validate_data(cfg, prepared)


def test_validate_reports_counts(tiny_vision):
    report = steps.validate_data(tiny_vision["cfg"], tiny_vision["data"])
    assert report["images"] == {"train": 11, "valid": 2, "test": 3} and report["classes"] == ["background", "nucleus"]


def test_evaluate_writes_metrics_for_ours_and_the_peer(tiny_vision, tmp_path):
    result = steps.evaluate_model(tiny_vision["cfg"], tiny_vision["model_dir"], tiny_vision["data"], tmp_path)
    rows = {row["model"]: row for row in json.loads((tmp_path / "metrics.json").read_text())}
    assert set(rows) == {"ours", "otsu_watershed"} and result["metric"] == "instance_f1"
    # the classic peer is deterministic and its numbers on split seed 0 are known
    assert rows["otsu_watershed"]["instance_f1"] == pytest.approx(0.745, abs=0.001)
    assert "| ours |" in (tmp_path / "metrics.md").read_text()


def test_unseeded_foreground_blobs_score_their_highest_heat():
    import numpy as np

    from apps.vision.decode import Detections, instance_labels

    foreground = np.zeros((16, 16), bool)
    foreground[2:8, 2:8] = True
    heat = np.zeros((4, 4), np.float32)
    heat[1, 1] = 0.8
    none = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))
    labels, scores = instance_labels(foreground, heat, none)
    assert labels.max() == 1 and 0.5 < scores[0] <= 0.8


def test_detect_task_scores_boxes_only(tiny_vision):
    from apps.vision.train import predict_images, score_predictions
    from shared.model_folder import load_model

    data = steps.load_prepared(tiny_vision["data"])
    test = data.samples["test"]
    preds = predict_images(load_model(tiny_vision["model_dir"]).model, [s.image for s in test])
    detect = score_predictions(preds, test, "detect", data.truth["test"], data.labels.semantic)
    both = score_predictions(preds, test, "both", data.truth["test"], data.labels.semantic)
    assert set(detect) == {"box_map", "box_map50"}
    assert {"miou", "fg_iou", "instance_f1", "mask_map50"} <= set(both)
