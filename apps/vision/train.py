"""Train the dense vision transformer on the shared training loop, and evaluate it.

Model selection uses the validation split only (a task-appropriate score:
mAP50 + instance F1 + foreground IoU for instance data, mIoU for semantic
only); the test split is read by :func:`evaluate_split` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from apps.vision.coco import CocoDataset, instances_from_labels, mask_to_segmentation
from apps.vision.data import Sample, TrainingImages, collate
from apps.vision.decode import Detections, Prediction, dense_predict, detections, instance_labels
from apps.vision.losses import IGNORE, LossWeights, dense_loss
from apps.vision.metrics import coco_map, confusion_matrix, foreground_iou, instance_f1, iou_per_class
from apps.vision.model import DenseVisionTransformer, VisionModelConfig, normalise
from apps.vision.scenes import SceneConfig
from shared.config import config_to_dict, load_config
from shared.errors import ConfigError
from shared.model_folder import load_model
from shared.training import TrainConfig, Trainer, TrainResult, seed_everything

CONFIG_DIR = Path(__file__).parent / "configs"
Task = Literal["both", "segment", "detect"]


@dataclass
class VisionConfig:
    # nuclei (StarDist tiles), scenes (generated), coco (your instances files) or folders (image + mask folders)
    dataset: str = "nuclei"
    task: Task = "both"
    seed: int = 0
    cache_dir: str = "data/cache/vision"
    tile: int = 128  # nuclei tile side
    scenes: SceneConfig = field(default_factory=SceneConfig)  # `images` is the training-set size
    scenes_valid: int = 40
    scenes_test: int = 100
    # Your own data. coco: {train: instances_train.json, valid: ..., test: ...} (images resolve
    # relative to each file's folder). folders: {train: [images_dir, masks_dir], ...} plus classes.
    coco: dict[str, str] = field(default_factory=dict)
    folders: dict[str, list[str]] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)  # folders: semantic class names, background first
    crop: int = 128
    repeats: int = 4  # augmented draws of each training image per epoch
    model: VisionModelConfig = field(default_factory=VisionModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    flips: bool = True  # average predictions over flips (exactly flip-equivariant output)
    score_threshold: float = 0.3  # detections kept for instances, overlays and F1
    peers: list[str] = field(default_factory=lambda: ["otsu_watershed"])


def load_vision_config(name: str = "default", overrides: list[str] | None = None) -> VisionConfig:
    path = Path(name) if Path(name).suffix else CONFIG_DIR / f"{name}.yaml"
    cfg = load_config(VisionConfig, path, overrides)
    if cfg.crop % 8:
        raise ConfigError(f"crop must be a multiple of 8, got {cfg.crop}")
    return cfg


@torch.no_grad()
def predict_images(model: DenseVisionTransformer, images: list[np.ndarray], flips: bool = True,
                   score_threshold: float = 0.3, batch_size: int = 8) -> list[Prediction]:
    """Predictions for ``uint8 [H, W, 3]`` images (same-sized images are batched together)."""
    results: list[Prediction | None] = [None] * len(images)
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(images):
        by_size.setdefault(image.shape[:2], []).append(i)
    for (h, w), indices in by_size.items():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            out = dense_predict(model, torch.from_numpy(np.stack([images[i] for i in chunk])), flips)
            for j, i in enumerate(chunk):
                found = detections(out.heat[j], out.box[j], h, w)
                seeds = Detections(*(a[found.scores >= score_threshold] for a in (found.boxes, found.scores, found.labels)))
                semantic = out.seg[j].argmax(0).numpy().astype(np.uint8)
                labels, scores = instance_labels(semantic > 0, out.heat[j].sum(0).numpy(), seeds)
                results[i] = Prediction(semantic, found, labels, scores)
    return results  # type: ignore[return-value]


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


def evaluate_split(model: DenseVisionTransformer, samples: list[Sample], cfg: VisionConfig,
                   ground_truth: CocoDataset | None, class_names: list[str]) -> dict[str, float]:
    """Held-out metrics of the model on ``samples`` (see :func:`score_predictions`)."""
    preds = predict_images(model, [s.image for s in samples], cfg.flips, cfg.score_threshold)
    return score_predictions(preds, samples, cfg.task, ground_truth, class_names)


def score_predictions(preds: list[Prediction], samples: list[Sample], task: Task, ground_truth: CocoDataset | None,
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
    """One number to select checkpoints on: the mean of the headline metrics present."""
    keys = [k for k in ("box_map50", "instance_f1", "fg_iou", "miou") if k in scores]
    return float(np.mean([scores[k] for k in keys])) if keys else 0.0


@dataclass
class Fitted:
    model: DenseVisionTransformer
    result: TrainResult | None = None


def fit(cfg: VisionConfig, train: list[Sample], valid: list[Sample], valid_truth: CocoDataset | None,
        class_names: list[str], det_names: list[str], out_dir: str | Path, resume: bool = False) -> Fitted:
    """Train on ``train``, keep the checkpoint with the best validation score."""
    detect = cfg.task != "segment" and all(s.box_labels for s in train)
    segment = cfg.task != "detect" and all(s.semantic is not None for s in train)
    if not detect and not segment:
        raise ConfigError(f"task={cfg.task}: the training data has no labels for it")
    weights = replace(cfg.loss, segmentation=cfg.loss.segmentation if segment else 0.0,
                      heatmap=cfg.loss.heatmap if detect else 0.0, box=cfg.loss.box if detect else 0.0)
    model_cfg = replace(cfg.model, num_classes=len(class_names), num_det_classes=max(len(det_names), 1),
                        class_names=class_names)
    seed_everything(cfg.train.seed + cfg.seed)
    model = DenseVisionTransformer(model_cfg)
    eval_cfg = replace(cfg, task="both" if detect and segment else ("detect" if detect else "segment"))

    def loss_fn(m: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        out = m(normalise(batch["image"]))
        return dense_loss(out, batch.get("semantic"), batch.get("heat"), batch.get("box_target"),
                          batch.get("box_weight"), weights)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        scores = evaluate_split(m, valid, eval_cfg, valid_truth if detect else None, class_names)
        return {"val_score": selection_score(scores), **{f"val_{k}": v for k, v in scores.items()
                                                         if not k.startswith("iou_")}}

    train_cfg = replace(cfg.train, monitor="val_score", monitor_mode="max", seed=cfg.train.seed + cfg.seed)
    data = TrainingImages(train, cfg.crop, model_cfg.num_det_classes, cfg.repeats)
    trainer = Trainer(model, train_cfg, out_dir, loss_fn, "vision-dense", config_to_dict(model_cfg), eval_fn=eval_fn,
                      collate_fn=collate, metadata={"dataset": cfg.dataset, "task": eval_cfg.task,
                                                    "detection_classes": det_names})
    result = trainer.fit(data, resume=resume)
    return Fitted(load_model(result.best_dir).model, result)
