"""Vision metrics: mIoU and per-class IoU, foreground IoU, instance F1 at an IoU threshold, COCO mAP,
and :func:`score_predictions`, the one scorer of ours and every peer.

COCO mAP@[.5:.95] and mAP50 come from pycocotools' ``COCOeval`` (the
reference implementation), on boxes or masks.
"""

from __future__ import annotations

import builtins
import contextlib
import io

from typing import TYPE_CHECKING

import numpy as np

from apps.vision.coco import CocoDataset, instances_from_labels, mask_to_segmentation
from apps.vision.losses import IGNORE
from apps.vision.matching import mask_iou_matrix, match_by_iou
from shared.reporting import markdown_table as format_table

if TYPE_CHECKING:
    from apps.vision.data import Sample
    from apps.vision.predict import Prediction

HEADLINE = ("instance_f1", "fg_iou", "box_map50", "box_map", "mask_map50", "miou", "images_per_second")
COUNTS = ("steps", "epochs")  # shown as whole numbers


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


def _masks(labels: np.ndarray) -> np.ndarray:
    """The instances of a label image as a bool stack ``[N, H, W]``."""
    found = instances_from_labels(labels)
    return np.stack([mask for _, mask in found]) if found else np.zeros((0, *labels.shape), bool)


def _instance_mask_matrix(sample: Sample) -> np.ndarray:
    """The sample's ground-truth instance masks (for F1)."""
    return sample.masks if sample.masks is not None else np.zeros((0, *sample.image.shape[:2]), bool)


def coco_results(image_id: int, pred: Prediction, category_ids: list[int]) -> tuple[list[dict], list[dict]]:
    """COCO result records for one image: boxes (every detection) and instance masks (with scores)."""
    boxes = [{"image_id": image_id, "category_id": category_ids[int(k)], "score": float(s),
              "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]}
             for (x0, y0, x1, y1), s, k in zip(pred.detections.boxes, pred.detections.scores, pred.detections.labels, strict=True)]
    masks = []
    for i, score in enumerate(pred.instance_scores, start=1):
        segmentation, _, _ = mask_to_segmentation(pred.instances == i)
        masks.append({"image_id": image_id, "category_id": category_ids[0], "score": float(score), "segmentation": segmentation})
    return boxes, masks


def score_predictions(preds: list[Prediction], samples: list[Sample], task: str, ground_truth: CocoDataset | None,
                      class_names: list[str]) -> dict[str, float]:
    """What ``task`` covers: class maps (``segment``, ``both``): mIoU, per-class IoU, foreground IoU;
    boxes (``detect``, ``both``; needs ``ground_truth``): COCO box mAP and mAP50; instances (``both``,
    one class with masks): instance F1 at IoU 0.5 and mask mAP. Ours and every peer are scored by
    this one function. Pixels labelled ``IGNORE`` (padding, crowd regions) count for nobody."""
    scores: dict[str, float] = {}
    if task != "detect" and all(s.semantic is not None for s in samples):
        k = len(class_names)
        confusion = sum(confusion_matrix(p.semantic, s.semantic, k, ignore_index=IGNORE) for p, s in zip(preds, samples, strict=True))
        per_class = iou_per_class(confusion)
        scores["miou"] = float(np.nanmean(per_class))
        scores.update({f"iou_{name}": float(v) for name, v in zip(class_names, per_class, strict=True)})
        scored = [s.semantic != IGNORE for s in samples]
        pred_fg = np.concatenate([(p.semantic > 0)[keep] for p, keep in zip(preds, scored, strict=True)])
        true_fg = np.concatenate([(s.semantic > 0)[keep] for s, keep in zip(samples, scored, strict=True)])
        scores["fg_iou"] = foreground_iou(pred_fg, true_fg)
    if ground_truth is not None and task != "segment":
        category_ids = [int(c["id"]) for c in sorted(ground_truth.categories, key=lambda c: c["id"])]
        box_records, mask_records = [], []
        for image, pred in zip(ground_truth.images, preds, strict=True):
            boxes, masks = coco_results(image.id, pred, category_ids)
            box_records += boxes
            mask_records += masks
        scores.update({f"box_{k}": v for k, v in coco_map(ground_truth, box_records).items()})
        if task == "both" and len(category_ids) == 1 and all(s.masks is not None for s in samples):
            scores.update({f"mask_{k}": v for k, v in coco_map(ground_truth, mask_records, "segm").items()})
            tp = n_pred = n_true = 0
            for pred, sample in zip(preds, samples, strict=True):
                counts = instance_f1(_masks(pred.instances), _instance_mask_matrix(sample))
                tp, n_pred, n_true = tp + counts["tp"], n_pred + counts["pred"], n_true + counts["true"]
            scores["instance_f1"] = 2 * tp / (n_pred + n_true) if n_pred + n_true else 1.0
    return scores


def selection_score(scores: dict[str, float]) -> float:
    """One number to select checkpoints on: the mean of the headline metrics present (box mAP at both
    the loose 0.5 and the strict 0.5:0.95 IoU, so selection also looks at how tight the boxes are)."""
    keys = [k for k in ("box_map", "box_map50", "instance_f1", "fg_iou", "miou") if k in scores]
    return float(np.mean([scores[k] for k in keys])) if keys else 0.0


def headline_metric(scores: dict[str, float], task: str) -> str:
    """The metric that decides promotion: instance F1 for instance data, box mAP50 for detection, else mIoU."""
    return "instance_f1" if "instance_f1" in scores else ("box_map50" if task == "detect" else "miou")


def markdown_table(table: list[dict], columns: tuple[str, ...] = HEADLINE) -> str:
    """The app's metrics table (see :func:`shared.reporting.markdown_table`)."""
    return format_table(table, columns, COUNTS)
