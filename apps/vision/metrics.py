"""Vision metrics: mIoU and per-class IoU, foreground IoU, instance F1 at an IoU threshold, COCO mAP.

COCO mAP@[.5:.95] and mAP50 come from pycocotools' ``COCOeval`` (the
reference implementation), on boxes or masks.
"""

from __future__ import annotations

import builtins
import contextlib
import io

import numpy as np

from apps.vision.coco import CocoDataset
from apps.vision.matching import mask_iou_matrix, match_by_iou


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int, ignore_index: int | None = None) -> np.ndarray:
    """``[C, C]`` counts, rows = true class, columns = predicted class."""
    keep = np.ones(target.shape, dtype=bool) if ignore_index is None else target != ignore_index
    t, p = target[keep].astype(np.int64), pred[keep].astype(np.int64)
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_per_class(confusion: np.ndarray) -> np.ndarray:
    """IoU of each class; NaN for a class absent from both prediction and truth."""
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, tp / union, np.nan)


def mean_iou(confusion: np.ndarray) -> float:
    """Mean IoU over the classes present in prediction or truth."""
    return float(np.nanmean(iou_per_class(confusion)))


def foreground_iou(pred: np.ndarray, true: np.ndarray) -> float:
    """IoU of two boolean foreground masks (1.0 when both are empty)."""
    union = np.logical_or(pred, true).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, true).sum() / union)


def instance_f1(pred_masks: np.ndarray, true_masks: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """Precision, recall and F1 of one-to-one (Hungarian) matches with IoU >= ``threshold``."""
    matches = match_by_iou(mask_iou_matrix(pred_masks, true_masks), threshold)
    tp, n_pred, n_true = len(matches), len(pred_masks), len(true_masks)
    precision = tp / n_pred if n_pred else float(n_true == 0)
    recall = tp / n_true if n_true else float(n_pred == 0)
    f1 = 2 * tp / (n_pred + n_true) if n_pred + n_true else 1.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "pred": n_pred, "true": n_true}


def coco_map(ground_truth: CocoDataset, detections: list[dict], iou_type: str = "bbox") -> dict[str, float]:
    """COCO mAP@[.5:.95] and mAP50 of ``detections`` (COCO results: ``image_id``, ``category_id``,
    ``score`` and ``bbox`` or ``segmentation``) against ``ground_truth``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not detections:
        return {"map": 0.0, "map50": 0.0}
    with _quiet():
        gt = COCO()
        gt.dataset = ground_truth.to_dict()
        for ann in gt.dataset["annotations"]:
            ann.setdefault("iscrowd", 0)
        gt.createIndex()
        dt = gt.loadRes([dict(d) for d in detections])
        evaluator = COCOeval(gt, dt, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
    # What COCOeval.summarize() reports as AP and AP50 (all areas, the largest maxDets),
    # read from the accumulated precision [iou, recall, class, area, maxDets] without its printing.
    precision = evaluator.eval["precision"][:, :, :, 0, -1]
    at_50 = precision[int(np.argmin(np.abs(evaluator.params.iouThrs - 0.5)))]
    mean = lambda p: float(p[p > -1].mean()) if (p > -1).any() else 0.0  # noqa: E731
    return {"map": mean(precision), "map50": mean(at_50)}


@contextlib.contextmanager
def _quiet():
    """Silence pycocotools' progress prints, including when Prefect's ``log_prints`` has replaced ``print``."""
    original = builtins.print
    builtins.print = lambda *args, **kwargs: None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        builtins.print = original
