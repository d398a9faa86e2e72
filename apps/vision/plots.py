"""Pictures of predictions: masks and boxes drawn on the input, and side-by-side panels
(the evaluation's ``test_overlays.png``: input, ground truth, ours and each peer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from apps.vision.data import LabelSpace, Sample
    from apps.vision.predict import Prediction

# Distinct colours (Okabe-Ito, then a few more); instance k uses PALETTE[k % len(PALETTE)].
PALETTE = np.array([(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178),
                    (213, 94, 0), (204, 121, 167), (255, 255, 255), (120, 200, 80), (180, 80, 220)], dtype=np.float32)


def colour_labels(image: np.ndarray, labels: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """``image`` with every non-zero label blended in its palette colour and a 1-pixel outline."""
    out = image.astype(np.float32).copy()
    ids = labels.astype(np.int64)
    fg = ids > 0
    colours = PALETTE[(ids - 1) % len(PALETTE)]
    out[fg] = (1 - alpha) * out[fg] + alpha * colours[fg]
    edge = np.zeros_like(fg)
    edge[:-1] |= ids[:-1] != ids[1:]
    edge[:, :-1] |= ids[:, :-1] != ids[:, 1:]
    edge &= fg
    out[edge] = colours[edge]
    return out.clip(0, 255).astype(np.uint8)


def draw_boxes(image: np.ndarray, boxes: np.ndarray, labels: list[str] | None = None, colour_ids: np.ndarray | None = None,
               scale: int = 1) -> np.ndarray:
    """Boxes (xyxy pixels of the unscaled image) and optional text labels on an upscaled copy."""
    canvas = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    draw = ImageDraw.Draw(canvas)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        colour = tuple(int(c) for c in PALETTE[int(colour_ids[i] if colour_ids is not None else 0) % len(PALETTE)])
        left, top = x0 * scale, y0 * scale
        right, bottom = max(x1 * scale - 1, left), max(y1 * scale - 1, top)  # zero-width boxes are valid COCO
        draw.rectangle([left, top, right, bottom], outline=colour, width=max(1, scale // 2))
        if labels:
            draw.text((x0 * scale + 2, y0 * scale + 1), labels[i], fill=colour)
    return np.asarray(canvas)


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement (pixels stay crisp)."""
    return image if scale == 1 else np.asarray(Image.fromarray(image).resize(
        (image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST))


def panel(images: list[np.ndarray], titles: list[str]) -> np.ndarray:
    """RGB images side by side, each under a title line."""
    tiles = []
    for image, title in zip(images, titles, strict=True):
        tile = Image.new("RGB", (image.shape[1], image.shape[0] + 14), (25, 25, 25))
        tile.paste(Image.fromarray(image), (0, 14))
        ImageDraw.Draw(tile).text((3, 1), title, fill=(240, 240, 240))
        tiles.append(np.asarray(tile))
    height = max(t.shape[0] for t in tiles)
    return np.concatenate([np.pad(t, ((0, height - t.shape[0]), (0, 4), (0, 0))) for t in tiles], axis=1)


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of possibly different widths, one under another."""
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)


def prediction_overlay(image: np.ndarray, pred: Prediction, labels: LabelSpace, score_threshold: float,
                       scale: int = 2) -> np.ndarray:
    """Instances (or classes) coloured on the image and the confident boxes drawn on top."""
    instance_data = pred.instances.any() and len(labels.detection) == 1
    coloured = colour_labels(image, pred.instances if instance_data else pred.semantic)
    keep = pred.detections.scores >= score_threshold
    names = [f"{labels.detection[k] if len(labels.detection) > 1 else ''} {s:.2f}".strip()
             for k, s in zip(pred.detections.labels[keep], pred.detections.scores[keep], strict=True)]
    return draw_boxes(coloured, pred.detections.boxes[keep], names if len(labels.detection) > 1 else None,
                      pred.detections.labels[keep] + 1, scale)


def overlay_panel(samples: list[Sample], shown: dict[str, list[Prediction]], labels: LabelSpace,
                  score_threshold: float, max_images: int = 4) -> np.ndarray:
    """One row per test image: input, ground truth, then each model's prediction."""
    rows = []
    for i, sample in enumerate(samples[:max_images]):
        if sample.masks is not None and len(labels.detection) == 1:
            truth_labels = np.zeros(sample.image.shape[:2], np.int32)
            for k, mask in enumerate(sample.masks, start=1):
                truth_labels[mask] = k
        else:
            truth_labels = sample.semantic if sample.semantic is not None else np.zeros(sample.image.shape[:2], np.int32)
        truth = draw_boxes(colour_labels(sample.image, truth_labels), sample.boxes, None, sample.labels + 1, 2)
        tiles = [upscale(sample.image, 2), truth] + [prediction_overlay(sample.image, preds[i], labels, score_threshold)
                                                     for preds in shown.values()]
        rows.append(panel(tiles, [sample.name, "ground truth", *shown]))
    return stack_rows(rows)
