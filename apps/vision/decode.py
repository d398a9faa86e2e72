"""From dense head outputs to what users get: class maps, boxes and instance masks.

- :func:`dense_predict` runs the model on images of any size (padded to a
  multiple of 8, cropped back) and, with ``flips``, averages the outputs over
  horizontal and vertical flips. Averaging over the flip group makes the
  prediction exactly flip-equivariant: the boxes of a flipped image are the
  flipped boxes of the image (up to float rounding), whatever the weights.
- :func:`detections`: heatmap peaks (3x3 max-pooling), their boxes, then
  class-wise non-maximum suppression with ``torchvision.ops.batched_nms``.
- :func:`instance_labels`: a marker watershed (scikit-image) over the
  predicted foreground, seeded at the detected box centres, so touching
  objects split along the heatmap's valleys. Foreground blobs no detection
  seeded become instances of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import batched_nms

from apps.vision.losses import decode_boxes
from apps.vision.model import DET_STRIDE, STRIDE, DenseOutputs, DenseVisionTransformer, normalise


@dataclass
class Detections:
    boxes: np.ndarray  # float32 [N, 4], xyxy pixels
    scores: np.ndarray  # float32 [N]
    labels: np.ndarray  # int64 [N], 0-based detection class


@dataclass
class Prediction:
    """What the model says about one image."""

    semantic: np.ndarray  # uint8 [H, W] class ids
    detections: Detections  # every peak above the mAP threshold (0.05)
    instances: np.ndarray  # int32 [H, W] labels (0 = background)
    instance_scores: np.ndarray  # float32 [num instances]


def _flip(out: DenseOutputs, horizontal: bool) -> DenseOutputs:
    """The outputs of a flipped image mapped back onto the original (box edges swap sides)."""
    dim, swap = (-1, [2, 1, 0, 3]) if horizontal else (-2, [0, 3, 2, 1])
    return DenseOutputs(seg=out.seg.flip(dim), heat=out.heat.flip(dim), box=out.box.flip(dim)[:, swap])


def _padded(images: Tensor) -> tuple[Tensor, int, int]:
    """``uint8 [B, H, W, 3]`` padded with black at the bottom and right to multiples of 8 (as training
    crops are padded), with the original height and width."""
    h, w = images.shape[1:3]
    ph, pw = -h % STRIDE, -w % STRIDE
    return (F.pad(images, (0, 0, 0, pw, 0, ph)) if ph or pw else images), h, w


@torch.no_grad()
def dense_predict(model: DenseVisionTransformer, images: Tensor, flips: bool = True) -> DenseOutputs:
    """Probabilities, not logits: ``seg`` softmax ``[B, C, H, W]``, ``heat`` sigmoid, ``box`` distances.

    ``images`` is ``uint8 [B, H, W, 3]``. With ``flips`` the model also sees the image flipped
    left-right, up-down and both, and the four outputs are averaged (exactly flip-equivariant for
    sides that are multiples of 8; otherwise the padding sits on one side only).
    """
    model.eval()
    padded, h, w = _padded(images)
    x = normalise(padded)
    variants = [(False, False), (True, False), (False, True), (True, True)] if flips else [(False, False)]
    seg = heat = box = None
    for hflip, vflip in variants:
        inp = x.flip(-1) if hflip else x
        inp = inp.flip(-2) if vflip else inp
        raw = model(inp)
        out = DenseOutputs(seg=raw.seg.softmax(1), heat=raw.heat.sigmoid(), box=raw.box)
        if vflip:
            out = _flip(out, horizontal=False)
        if hflip:
            out = _flip(out, horizontal=True)
        seg = out.seg if seg is None else seg + out.seg
        heat = out.heat if heat is None else heat + out.heat
        box = out.box if box is None else box + out.box
    n = len(variants)
    hd, wd = -(-h // DET_STRIDE), -(-w // DET_STRIDE)
    return DenseOutputs(seg=(seg / n)[..., :h, :w], heat=(heat / n)[..., :hd, :wd], box=(box / n)[..., :hd, :wd])


def detections(heat: Tensor, box: Tensor, height: int, width: int, score_threshold: float = 0.05,
               max_detections: int = 300, nms_iou: float = 0.5) -> Detections:
    """Boxes of one image from its heatmap ``[K, h, w]`` (probabilities) and distances ``[4, h, w]``."""
    peaks = heat * (F.max_pool2d(heat[None], 3, 1, 1)[0] == heat)
    scores, flat = peaks.flatten().topk(min(max_detections * 4, peaks.numel()))
    keep = (scores >= score_threshold) & (scores > 0)  # zeros are cells that are not peaks
    scores, flat = scores[keep], flat[keep]
    cells = heat.shape[-2] * heat.shape[-1]
    labels, cell = flat // cells, flat % cells
    boxes = decode_boxes(box[None])[0].flatten(1)[:, cell].T
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
    kept = batched_nms(boxes, scores, labels, nms_iou)[:max_detections]
    return Detections(boxes[kept].numpy().astype(np.float32), scores[kept].numpy().astype(np.float32),
                      labels[kept].numpy().astype(np.int64))


def instance_labels(foreground: np.ndarray, heat: np.ndarray, found: Detections,
                    min_area: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """An ``int32 [H, W]`` label image (0 = background, 1.. = instances) and each instance's score.

    ``foreground`` is a bool mask, ``heat`` the class-summed heatmap ``[h, w]`` (probabilities).
    A seeded instance scores its detection's score; an unseeded blob the highest heat inside it.
    """
    from scipy import ndimage
    from skimage.segmentation import watershed

    height, width = foreground.shape
    markers = np.zeros((height, width), dtype=np.int32)
    for i, (x0, y0, x1, y1) in enumerate(found.boxes, start=1):
        cy, cx = int(min(max((y0 + y1) / 2, 0), height - 1)), int(min(max((x0 + x1) / 2, 0), width - 1))
        if foreground[cy, cx] and markers[cy, cx] == 0:
            markers[cy, cx] = i
    # each heat cell covers DET_STRIDE pixels; the grid may overhang the image by up to 3 pixels
    upsampled_heat = np.asarray(F.interpolate(torch.from_numpy(heat)[None, None].float(), scale_factor=DET_STRIDE,
                                              mode="bilinear", align_corners=False)[0, 0, :height, :width])
    seeded = watershed(-upsampled_heat, markers, mask=foreground) if markers.any() else np.zeros_like(markers)
    labels = np.zeros((height, width), dtype=np.int32)
    scores: list[float] = []
    for old in np.unique(seeded):
        piece = seeded == old
        if old and piece.sum() >= min_area:
            scores.append(float(found.scores[old - 1]))
            labels[piece] = len(scores)
    orphans, count = ndimage.label(foreground & (seeded == 0))
    for k in range(1, count + 1):
        piece = orphans == k
        if piece.sum() >= min_area:
            scores.append(float(upsampled_heat[piece].max()))
            labels[piece] = len(scores)
    return labels, np.asarray(scores, dtype=np.float32)
