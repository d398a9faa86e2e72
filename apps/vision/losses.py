"""Training targets and losses of the dense vision model.

Detection follows TTFNet: each ground-truth box puts an elliptical Gaussian
(sigma = ``alpha`` x box side / 6) on its class's heatmap, peaking at 1 in the
cell nearest its centre (a centre exactly on a cell border may go to either side); the box regression is trained at every cell inside
that Gaussian, weighted by it (each box's weights sum to log(area), so large
boxes count a little more, not quadratically more), with the generalized IoU
loss from ``torchvision.ops`` (or the complete IoU loss, ``box_loss: ciou``, which also
penalises centre distance and aspect ratio). Where two boxes' Gaussians overlap, the cell
regresses the smaller box. An IoU-aware model's IoU map learns, at the same cells and
weights, the IoU of the cell's (detached) box with its target (binary cross-entropy on a soft
target, as in VarifocalNet). A ``box_bins`` model adds, at the same cells and weights, the
distribution focal loss of Generalized Focal Loss: cross-entropy of each edge's distance
distribution with the two bins around the true distance, weighted by nearness. Segmentation
is cross-entropy plus soft Dice over the foreground classes present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import complete_box_iou_loss, generalized_box_iou_loss

from apps.vision.model import DET_STRIDE, DenseOutputs

IGNORE = 255  # semantic label of pixels that no loss sees (padding)


@dataclass
class LossWeights:
    segmentation: float = 1.0
    heatmap: float = 1.0
    box: float = 5.0
    iou: float = 1.0  # the IoU map of iou_aware models
    dfl: float = 1.0  # the distribution focal loss of box_bins models (YOLOv8's ratio to its box loss)
    box_loss: Literal["giou", "ciou"] = "giou"

    def __post_init__(self) -> None:
        if self.box_loss not in ("giou", "ciou"):
            raise ValueError(f"box_loss must be giou or ciou, got {self.box_loss!r}")


def cell_centres(height: int, width: int, stride: int = DET_STRIDE) -> tuple[Tensor, Tensor]:
    """Pixel coordinates (continuous, pixel i spans [i, i+1)) of the detection cell centres, ``[h, w]`` each."""
    ys = torch.arange(height // stride, dtype=torch.float32) * stride + stride / 2
    xs = torch.arange(width // stride, dtype=torch.float32) * stride + stride / 2
    return torch.meshgrid(ys, xs, indexing="ij")


def detection_targets(boxes: np.ndarray, labels: np.ndarray, height: int, width: int, num_classes: int,
                      alpha: float = 0.54) -> tuple[Tensor, Tensor, Tensor]:
    """Heatmap ``[K, h, w]``, box target ``[4, h, w]`` (xyxy pixels) and box weight ``[h, w]``
    for one image of ``height x width`` with ``boxes`` ``[N, 4]`` (xyxy) of classes ``labels``."""
    h, w = height // DET_STRIDE, width // DET_STRIDE
    heat = torch.zeros(num_classes, h, w)
    box_target = torch.zeros(4, h, w)
    weight = torch.zeros(h, w)
    if len(boxes) == 0:
        return heat, box_target, weight
    ys = torch.arange(h, dtype=torch.float32)[:, None]
    xs = torch.arange(w, dtype=torch.float32)[None, :]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i in np.argsort(-areas, kind="stable"):  # largest first: smaller boxes overwrite shared cells
        x0, y0, x1, y1 = (float(v) for v in boxes[i])
        bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        cx, cy = (x0 + x1) / 2 / DET_STRIDE - 0.5, (y0 + y1) / 2 / DET_STRIDE - 0.5
        sx, sy = max(alpha * bw / 6 / DET_STRIDE, 0.3), max(alpha * bh / 6 / DET_STRIDE, 0.3)
        gauss = torch.exp(-((xs - cx) ** 2 / (2 * sx**2) + (ys - cy) ** 2 / (2 * sy**2)))
        py, px = min(max(int(round(cy)), 0), h - 1), min(max(int(round(cx)), 0), w - 1)
        gauss[py, px] = 1.0
        k = int(labels[i])
        heat[k] = torch.maximum(heat[k], gauss)
        region = gauss > 0.05
        share = gauss * region
        weight[region] = (share / share.sum() * math.log(max(bw * bh, 2.0)))[region]
        box_target[:, region] = torch.tensor([x0, y0, x1, y1])[:, None]
    return heat, box_target, weight


def decode_boxes(box: Tensor) -> Tensor:
    """Edge distances ``[B, 4, h, w]`` -> boxes ``[B, 4, h, w]`` (xyxy pixels) around each cell centre."""
    cy, cx = cell_centres(box.shape[-2] * DET_STRIDE, box.shape[-1] * DET_STRIDE)
    cx, cy = cx.to(box), cy.to(box)
    return torch.stack([cx - box[:, 0], cy - box[:, 1], cx + box[:, 2], cy + box[:, 3]], dim=1)


def paired_iou(a: Tensor, b: Tensor) -> Tensor:
    """IoU of each box in ``a`` ``[N, 4]`` with the box in the same row of ``b`` (xyxy)."""
    lt, rb = torch.maximum(a[:, :2], b[:, :2]), torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area = lambda x: (x[:, 2:] - x[:, :2]).clamp(min=0).prod(1)  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp_min(1e-6)


def distribution_focal_loss(logits: Tensor, distance: Tensor) -> Tensor:
    """GFL's DFL per row: ``logits`` ``[N, 4, bins]`` over distances 0, 4, 8, ... pixels, ``distance``
    ``[N, 4]`` in pixels (clipped to the last bin). Cross-entropy with the two neighbouring bins,
    each weighted by how near the true distance is to it; the mean over the 4 edges."""
    bins = logits.shape[-1]
    target = (distance / DET_STRIDE).clamp(0, bins - 1 - 1e-3)
    left = target.floor().long()
    right_weight = target - left
    log_probs = logits.log_softmax(-1)
    left_lp = log_probs.gather(-1, left[..., None])[..., 0]
    right_lp = log_probs.gather(-1, (left + 1)[..., None])[..., 0]
    return -(left_lp * (1 - right_weight) + right_lp * right_weight).mean(-1)


def focal_heatmap_loss(logits: Tensor, target: Tensor) -> Tensor:
    """CenterNet's penalty-reduced focal loss, normalised by the number of peaks."""
    prob = logits.sigmoid().clamp(1e-4, 1 - 1e-4)
    pos = target.eq(1.0)
    pos_loss = -(torch.log(prob) * (1 - prob) ** 2)[pos].sum()
    neg_loss = -(torch.log(1 - prob) * prob**2 * (1 - target) ** 4)[~pos].sum()
    return (pos_loss + neg_loss) / pos.sum().clamp_min(1)


def segmentation_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy plus soft Dice over the foreground classes present (``IGNORE`` pixels skipped)."""
    ce = F.cross_entropy(logits, labels, ignore_index=IGNORE)
    valid = (labels != IGNORE).unsqueeze(1)
    probs = logits.softmax(1) * valid
    onehot = F.one_hot(labels.clamp(max=logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2) * valid
    inter = (probs * onehot).sum((0, 2, 3))[1:]
    total = (probs + onehot).sum((0, 2, 3))[1:]
    present = onehot.sum((0, 2, 3))[1:] > 0
    dice = 1 - (2 * inter + 1) / (total + 1)
    return ce + (dice[present].mean() if present.any() else logits.sum() * 0)


def dense_loss(out: DenseOutputs, semantic: Tensor | None, heat: Tensor | None, box_target: Tensor | None,
               box_weight: Tensor | None, weights: LossWeights) -> tuple[Tensor, dict[str, float]]:
    """Weighted sum of the losses whose targets are given, and each part for the progress bar."""
    parts: dict[str, Tensor] = {}
    if semantic is not None and weights.segmentation > 0:
        parts["seg"] = segmentation_loss(out.seg, semantic) * weights.segmentation
    if heat is not None and weights.heatmap > 0:
        parts["heat"] = focal_heatmap_loss(out.heat, heat) * weights.heatmap
    if box_target is not None and box_weight is not None and weights.box > 0:
        cells = box_weight > 0
        if cells.any():
            pred = decode_boxes(out.box).permute(0, 2, 3, 1)[cells]
            true = box_target.permute(0, 2, 3, 1)[cells]
            loss = complete_box_iou_loss if weights.box_loss == "ciou" else generalized_box_iou_loss
            w = box_weight[cells]
            parts["box"] = (loss(pred, true, reduction="none") * w).sum() / w.sum() * weights.box
            if out.box_logits is not None and weights.dfl > 0:
                cy, cx = cell_centres(cells.shape[-2] * DET_STRIDE, cells.shape[-1] * DET_STRIDE)
                cx, cy = cx.expand_as(cells)[cells].to(true), cy.expand_as(cells)[cells].to(true)
                distance = torch.stack([cx - true[:, 0], cy - true[:, 1], true[:, 2] - cx, true[:, 3] - cy], 1)
                dfl = distribution_focal_loss(out.box_logits.permute(0, 3, 4, 1, 2)[cells], distance)
                parts["dfl"] = (dfl * w).sum() / w.sum() * weights.dfl
            if out.iou is not None and weights.iou > 0:
                target = paired_iou(pred.detach(), true)
                bce = F.binary_cross_entropy_with_logits(out.iou[:, 0][cells], target, reduction="none")
                parts["iou"] = (bce * w).sum() / w.sum() * weights.iou
    if not parts:
        raise ValueError("no loss applies: the batch has no targets for the enabled heads")
    total = torch.stack(list(parts.values())).sum()
    return total, {k: float(v.detach()) for k, v in parts.items()}
