"""Matching and metrics against hand-computed values."""

import numpy as np
import pytest

from apps.vision.coco import CocoAnnotation, CocoDataset, CocoImage
from apps.vision.matching import hungarian_match, mask_iou_matrix, match_by_iou
from apps.vision.metrics import coco_map, confusion_matrix, foreground_iou, instance_f1, iou_per_class, mean_iou


def test_hungarian_beats_greedy_on_a_hand_made_case():
    # Greedy would take (0, 0) = 1 and then (1, 1) = 9: total 10. The optimum is (0, 1) + (1, 0) = 2 + 3 = 5.
    cost = np.array([[1.0, 2.0], [3.0, 9.0]])
    rows, cols = hungarian_match(cost)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    rows, cols = hungarian_match(np.array([[5.0, 1.0, 7.0]]))  # fewer rows than columns
    assert rows.tolist() == [0] and cols.tolist() == [1]


def test_mask_iou_and_threshold():
    a = np.zeros((1, 4, 4), bool)
    a[0, :2, :2] = True  # 4 px
    b = np.zeros((2, 4, 4), bool)
    b[0, :2, :4] = True  # 8 px, overlap 4 -> IoU 0.5
    b[1, 3, 3] = True
    iou = mask_iou_matrix(a, b)
    assert iou.tolist() == [[0.5, 0.0]]
    assert match_by_iou(iou, 0.5) == [(0, 0, 0.5)] and match_by_iou(iou, 0.51) == []


def test_miou_by_hand():
    target = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 1, 2]])
    conf = confusion_matrix(pred, target, 3)
    # class 0: tp 3, union 4 -> 0.75; class 1: tp 3, union 5 -> 0.6; class 2: tp 0, union 1 -> 0
    np.testing.assert_allclose(iou_per_class(conf), [0.75, 0.6, 0.0])
    assert mean_iou(conf) == pytest.approx(0.45)
    assert np.isnan(iou_per_class(confusion_matrix(target, target, 4))[3])  # absent class is NaN, not 0
    assert mean_iou(confusion_matrix(target, target, 4)) == 1.0
    assert foreground_iou(pred > 0, target > 0) == pytest.approx(4 / 5)


def test_instance_f1_by_hand():
    true = np.zeros((2, 6, 6), bool)
    true[0, :3, :3] = True
    true[1, 3:, 3:] = True
    pred = np.zeros((3, 6, 6), bool)
    pred[0, :3, :3] = True  # exact
    pred[1, 3:, 4:] = True  # IoU 6/9 with true[1]
    pred[2, 0, 5] = True  # false positive
    scores = instance_f1(pred, true)
    assert scores["tp"] == 2 and scores["precision"] == pytest.approx(2 / 3) and scores["recall"] == 1.0
    assert scores["f1"] == pytest.approx(0.8)
    assert instance_f1(pred, true, threshold=0.7)["tp"] == 1


def _boxes_dataset():
    images = [CocoImage(1, "a.png", 100, 100)]
    anns = [CocoAnnotation(1, 1, 1, [10, 10, 20, 20], 400.0), CocoAnnotation(2, 1, 1, [60, 60, 30, 30], 900.0)]
    return CocoDataset(images, anns, [{"id": 1, "name": "thing"}])


def test_coco_map_perfect_half_and_none():
    gt = _boxes_dataset()
    perfect = [{"image_id": 1, "category_id": 1, "bbox": a.bbox, "score": 0.9} for a in gt.annotations]
    assert coco_map(gt, perfect) == {"map": pytest.approx(1.0), "map50": pytest.approx(1.0)}
    one = perfect[:1]  # finds one of the two objects: recall tops out at 0.5
    assert coco_map(gt, one)["map50"] == pytest.approx(0.5, abs=0.01)
    shifted = [{"image_id": 1, "category_id": 1, "bbox": [40, 40, 20, 20], "score": 0.9}]  # overlaps nothing
    assert coco_map(gt, shifted) == {"map": 0.0, "map50": 0.0}
