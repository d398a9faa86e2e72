"""Train the dense vision transformer on the shared training loop.

Model selection uses the validation split only (a task-appropriate score:
mAP50 + instance F1 + foreground IoU for instance data, mIoU for semantic
only); the test split is read by evaluation alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from apps.vision.augment import TrainingImages, collate
from apps.vision.coco import CocoDataset
from apps.vision.config import VisionConfig
from apps.vision.data import Sample
from apps.vision.losses import dense_loss
from apps.vision.metrics import score_predictions, selection_score
from apps.vision.model import DenseVisionTransformer, normalise
from apps.vision.predict import PostProcess, predict_images
from shared.config import config_to_dict
from shared.errors import ConfigError
from shared.model_folder import load_model
from shared.training import Trainer, TrainResult, seed_everything


def post_process(cfg: VisionConfig) -> PostProcess:
    """The config's prediction settings."""
    return PostProcess(cfg.flips, cfg.score_threshold, cfg.mask_boxes, cfg.iou_power)


def evaluate_split(model: DenseVisionTransformer, samples: list[Sample], cfg: VisionConfig,
                   ground_truth: CocoDataset | None, class_names: list[str]) -> dict[str, float]:
    """Held-out metrics of the model on ``samples`` (see :func:`apps.vision.metrics.score_predictions`)."""
    preds = predict_images(model, [s.image for s in samples], post_process(cfg))
    return score_predictions(preds, samples, cfg.model.task, ground_truth, class_names)


@dataclass
class Fitted:
    model: DenseVisionTransformer
    result: TrainResult | None = None


def fit(cfg: VisionConfig, train: list[Sample], valid: list[Sample], valid_truth: CocoDataset | None,
        class_names: list[str], det_names: list[str], out_dir: str | Path, resume: bool = False,
        init: str | Path | None = None) -> Fitted:
    """Train on ``train``, keep the checkpoint with the best validation score. ``init``: a vision
    model folder to start from (its classes must match the data's)."""
    task = cfg.model.task
    detect = task != "segment" and all(s.box_labels for s in train)
    segment = task != "detect" and all(s.semantic is not None for s in train)
    if not detect and not segment:
        raise ConfigError(f"model.task={task}: the training data has no labels for it")
    trained_task = "both" if detect and segment else ("detect" if detect else "segment")
    weights = replace(cfg.loss, segmentation=cfg.loss.segmentation if segment else 0.0,
                      heatmap=cfg.loss.heatmap if detect else 0.0, box=cfg.loss.box if detect else 0.0)
    model_cfg = replace(cfg.model, task=trained_task, num_classes=len(class_names),
                        num_det_classes=max(len(det_names), 1), class_names=class_names)
    seed_everything(cfg.train.seed + cfg.data.seed)
    model = DenseVisionTransformer(model_cfg, backbone_weights=model_cfg.backbone_weights or None)
    model_cfg = replace(model_cfg, backbone_weights="")  # the model folder holds every weight
    if cfg.data.crop % model.stride:
        raise ConfigError(f"data.crop={cfg.data.crop} must be a multiple of the backbone's stride {model.stride}")
    if init is not None:
        start = load_model(init).model
        if not isinstance(start, DenseVisionTransformer):
            raise ConfigError(f"--init {init}: not a vision model")
        if (start.cfg.num_classes, start.cfg.num_det_classes) != (model_cfg.num_classes, model_cfg.num_det_classes):
            raise ConfigError(f"--init {init}: its classes {start.cfg.class_names} do not match the data's {class_names}")
        try:
            model.load_state_dict(start.state_dict())
        except RuntimeError as err:
            raise ConfigError(f"--init {init}: another architecture ({str(err).splitlines()[0]})") from None
    eval_cfg = replace(cfg, model=model_cfg)

    def loss_fn(m: nn.Module, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        out = m(normalise(batch["image"]))
        return dense_loss(out, batch.get("semantic"), batch.get("heat"), batch.get("box_target"),
                          batch.get("box_weight"), weights)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        scores = evaluate_split(m, valid, eval_cfg, valid_truth if detect else None, class_names)
        return {"val_score": selection_score(scores), **{f"val_{k}": v for k, v in scores.items()
                                                         if not k.startswith("iou_")}}

    train_cfg = replace(cfg.train, monitor="val_score", monitor_mode="max", seed=cfg.train.seed + cfg.data.seed)
    data = TrainingImages(train, cfg.data.crop, model_cfg.num_det_classes, cfg.data.repeats, cfg.data.augment,
                          cfg.data.copy_paste)
    trainer = Trainer(model, train_cfg, out_dir, loss_fn, "vision-dense", config_to_dict(model_cfg), eval_fn=eval_fn,
                      collate_fn=collate, metadata={"dataset": cfg.data.name or cfg.data.dataset, "task": trained_task,
                                                    "detection_classes": det_names,
                                                    "post_process": {"mask_boxes": cfg.mask_boxes,
                                                                     "iou_power": cfg.iou_power}})
    result = trainer.fit(data, resume=resume)
    return Fitted(load_model(result.best_dir).model, result)
