"""A generated multi-class scene set, written as COCO instances plus semantic label PNGs.

Each scene is an RGB image with a textured background and a few objects of
four classes (disc, square, triangle, ring), each filled with a random texture
(flat, stripes, checks or noise), at scales from small to large, that may
overlap: later objects occlude earlier ones, masks keep only what is visible,
and an object left with less than ``min_visible`` of its area is dropped. Pixel
noise and a brightness change go on top. Everything follows from the seed, so
the same seed and sizes give the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from apps.vision.coco import CocoAnnotation, CocoDataset, CocoImage, mask_to_segmentation
from apps.vision.images import png_bytes
from shared.atomic import atomic_write_bytes

CLASSES = ("disc", "square", "triangle", "ring")
SPLIT_STREAMS = {"train": 0, "valid": 1, "test": 2}  # each split draws from its own random stream


@dataclass
class SceneConfig:
    images: int = 200
    size: int = 128
    max_objects: int = 5
    min_scale: float = 0.08  # object diameter as a fraction of the image side
    max_scale: float = 0.4
    noise: float = 12.0  # std of additive pixel noise (0-255 scale)
    min_visible: float = 0.3
    seed: int = 0


def _shape_mask(kind: str, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    if kind in ("disc", "ring"):
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
        if kind == "ring":
            inner = r * 0.55
            draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill=0)
    else:
        corners = 4 if kind == "square" else 3
        radius = r * (math.sqrt(2) if kind == "square" else 1.3) * (0.75 if kind == "square" else 1.0)
        points = [(cx + radius * math.cos(angle + 2 * math.pi * k / corners),
                   cy + radius * math.sin(angle + 2 * math.pi * k / corners)) for k in range(corners)]
        draw.polygon(points, fill=255)
    return np.asarray(canvas) > 127


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """An RGB texture ``float [size, size, 3]``: flat, stripes, checks or noise around a random colour."""
    colour = rng.uniform(30, 225, size=3)
    kind = rng.integers(4)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == 0:
        pattern = np.zeros((size, size), dtype=np.float32)
    elif kind == 1:
        theta, period = rng.uniform(0, math.pi), rng.uniform(4, 12)
        pattern = np.sin((xx * math.cos(theta) + yy * math.sin(theta)) * 2 * math.pi / period)
    elif kind == 2:
        cell = int(rng.integers(3, 9))
        pattern = (((yy // cell) + (xx // cell)) % 2) * 2 - 1
    else:
        pattern = rng.normal(size=(size, size)).astype(np.float32)
    contrast = rng.uniform(10, 40)
    return np.clip(colour[None, None, :] + contrast * pattern[..., None], 0, 255)


def render_scene(rng: np.random.Generator, cfg: SceneConfig) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """One image ``uint8 [H, W, 3]`` and its visible instances ``(class index, bool mask)``."""
    size = cfg.size
    image = _texture(rng, size) * 0.6 + 40
    placed: list[tuple[int, np.ndarray, int]] = []
    for _ in range(int(rng.integers(1, cfg.max_objects + 1))):
        cls = int(rng.integers(len(CLASSES)))
        r = rng.uniform(cfg.min_scale, cfg.max_scale) * size / 2
        cx, cy = rng.uniform(r * 0.5, size - r * 0.5, size=2)
        mask = _shape_mask(CLASSES[cls], size, cx, cy, r, rng.uniform(0, 2 * math.pi))
        if not mask.any():
            continue
        image[mask] = _texture(rng, size)[mask]
        placed = [(c, m & ~mask, full) for c, m, full in placed]  # the new object hides what is under it
        placed.append((cls, mask, int(mask.sum())))
    image = image * rng.uniform(0.8, 1.2) + rng.normal(0, cfg.noise, size=image.shape)
    visible = [(c, m) for c, m, full in placed if m.sum() >= cfg.min_visible * full]
    return np.clip(image, 0, 255).astype(np.uint8), visible


def semantic_labels(instances: list[tuple[int, np.ndarray]], size: int) -> np.ndarray:
    """Class id per pixel (0 background, class index + 1 for objects)."""
    labels = np.zeros((size, size), dtype=np.uint8)
    for cls, mask in instances:
        labels[mask] = cls + 1
    return labels


def write_scenes(out_dir: str | Path, cfg: SceneConfig, split: str = "train") -> Path:
    """``<out>/<split>/NNNNN.png`` images, ``<out>/<split>_labels/NNNNN.png`` semantic masks and
    ``<out>/instances_<split>.json``. Different splits use different seeds (``seed`` + split number)."""
    out = Path(out_dir)
    rng = np.random.default_rng([cfg.seed, SPLIT_STREAMS.get(split, len(SPLIT_STREAMS))])
    images, annotations = [], []
    for image_id in range(1, cfg.images + 1):
        image, instances = render_scene(rng, cfg)
        name = f"{image_id:05d}.png"
        atomic_write_bytes(out / split / name, png_bytes(image))
        atomic_write_bytes(out / f"{split}_labels" / name, png_bytes(semantic_labels(instances, cfg.size)))
        images.append(CocoImage(image_id, f"{split}/{name}", cfg.size, cfg.size))
        for cls, mask in instances:
            segmentation, bbox, area = mask_to_segmentation(mask)
            annotations.append(CocoAnnotation(len(annotations) + 1, image_id, cls + 1, bbox, area, 0, segmentation))
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(CLASSES)]
    return CocoDataset(images, annotations, categories, out).save(out / f"instances_{split}.json")

