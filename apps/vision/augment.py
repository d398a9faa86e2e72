"""Training items: augmentation of labelled images, and batches with dense targets.

``basic`` augmentation: each draw takes a random square crop (padded when the image is
smaller), one of the 8 flips/rotations of the square and a photometric change; boxes,
instance masks and the class map follow the pixels. ``strong`` adds copy-paste, scale jitter,
zoom-out and affine warps (:mod:`apps.vision.transforms`). Items carry the targets their source has (class map, detection
heatmap and boxes); :func:`collate` keeps the targets every item of a batch has.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import Dataset

from apps.vision.data import Sample
from apps.vision.losses import IGNORE, detection_targets
from apps.vision.model import STRIDE
from shared.errors import DataError


def _flip_boxes(boxes: np.ndarray, size: int, axis: int) -> np.ndarray:
    out = boxes.copy()
    lo, hi = (0, 2) if axis == 1 else (1, 3)
    out[:, lo], out[:, hi] = size - boxes[:, hi], size - boxes[:, lo]
    return out


def dihedral(sample: Sample, k: int) -> Sample:
    """One of the 8 flips/rotations of the square's symmetry group (k in 0..7), applied to everything."""
    s = sample
    if k & 4:  # transpose: swap x and y
        s = replace(s, image=s.image.transpose(1, 0, 2), boxes=s.boxes[:, [1, 0, 3, 2]],
                    semantic=None if s.semantic is None else s.semantic.T,
                    masks=None if s.masks is None else s.masks.transpose(0, 2, 1))
    for bit, axis in ((1, 1), (2, 0)):  # left-right, up-down
        if k & bit:
            size = s.image.shape[axis]
            s = replace(s, image=np.flip(s.image, axis), boxes=_flip_boxes(s.boxes, size, axis),
                        semantic=None if s.semantic is None else np.flip(s.semantic, axis),
                        masks=None if s.masks is None else np.flip(s.masks, axis + 1))
    return s


def random_crop(sample: Sample, size: int, rng: np.random.Generator, min_kept: float = 0.4) -> Sample:
    """A ``size`` square crop (padded when the image is smaller); boxes are clipped and dropped when
    under ``min_kept`` of them stays inside."""
    h, w = sample.image.shape[:2]
    y, x = int(rng.integers(0, max(h - size, 0) + 1)), int(rng.integers(0, max(w - size, 0) + 1))
    image = np.zeros((size, size, 3), np.uint8)
    crop = sample.image[y : y + size, x : x + size]
    image[: crop.shape[0], : crop.shape[1]] = crop
    semantic = masks = None
    if sample.semantic is not None:
        semantic = np.full((size, size), IGNORE, np.uint8)
        semantic[: crop.shape[0], : crop.shape[1]] = sample.semantic[y : y + size, x : x + size]
    boxes = sample.boxes - np.array([x, y, x, y], np.float32)
    clipped = boxes.copy()
    clipped[:, 0::2] = clipped[:, 0::2].clip(0, min(size, w - x))
    clipped[:, 1::2] = clipped[:, 1::2].clip(0, min(size, h - y))
    area = lambda b: (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)  # noqa: E731
    keep = area(clipped) >= min_kept * np.maximum(area(boxes), 1e-6)
    if sample.masks is not None:
        masks = np.zeros((int(keep.sum()), size, size), bool)
        masks[:, : crop.shape[0], : crop.shape[1]] = sample.masks[keep, y : y + size, x : x + size]
    return replace(sample, image=image, semantic=semantic, boxes=clipped[keep], labels=sample.labels[keep], masks=masks)


def photometric(image: np.ndarray, rng: np.random.Generator, strength: float = 0.2) -> np.ndarray:
    """Random brightness, contrast and gamma."""
    x = image.astype(np.float32) / 255.0
    x = x ** np.exp(rng.uniform(-strength, strength))
    mean = x.mean()
    x = (x - mean) * (1 + rng.uniform(-strength, strength)) + mean + rng.uniform(-strength, strength) / 2
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


AUGMENT = ("none", "basic", "strong")


class TrainingImages(Dataset):
    """Augmented training items: each draw's randomness comes from one number drawn from NumPy's
    global RNG, which the trainer seeds and restores on resume. ``augment``: ``none``, ``basic``
    or ``strong`` (which pastes another image's instances with probability ``copy_paste``)."""

    def __init__(self, samples: list[Sample], crop: int, num_det_classes: int, repeats: int = 1,
                 augment: str = "basic", copy_paste: float = 0.5):
        if not samples:
            raise DataError("no training images")
        if augment not in AUGMENT:
            raise DataError(f"augment must be one of {', '.join(AUGMENT)}, got {augment!r}")
        self.samples, self.crop, self.k, self.repeats, self.augment = samples, crop, num_det_classes, repeats, augment
        self.copy_paste = copy_paste
        self.rotate = all(s.masks is not None for s in samples)  # free rotation needs masks to re-read boxes
        self.pipelines: dict[tuple[int, int], object] = {}  # strong: one per image size

    def __len__(self) -> int:
        return len(self.samples) * self.repeats

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng(np.random.randint(2**31))
        sample = self.samples[index % len(self.samples)]
        if self.augment == "strong":
            from apps.vision.transforms import copy_paste, geometric_pipeline, strong_augment

            if rng.random() < self.copy_paste:
                sample = copy_paste(sample, self.samples[int(rng.integers(len(self.samples)))], rng)
            sample = dihedral(sample, int(rng.integers(8)))
            size = sample.image.shape[:2]
            if size not in self.pipelines:
                self.pipelines[size] = geometric_pipeline(size, self.crop, self.rotate)
            sample = strong_augment(sample, self.crop, rng, self.pipelines[size])
        elif self.augment == "basic":
            sample = dihedral(sample, int(rng.integers(8)))
            sample = random_crop(sample, self.crop, rng)
            sample = replace(sample, image=photometric(sample.image, rng))
        elif sample.image.shape[0] != self.crop or sample.image.shape[1] != self.crop:
            sample = random_crop(sample, self.crop, rng)
        return item_tensors(sample, self.k)


def item_tensors(sample: Sample, num_det_classes: int) -> dict:
    """The tensors one training item contributes to a batch."""
    h, w = sample.image.shape[:2]
    if h % STRIDE or w % STRIDE:
        raise DataError(f"{sample.name}: training crops must be multiples of {STRIDE} pixels, got {w}x{h}")
    item = {"image": torch.from_numpy(np.ascontiguousarray(sample.image))}
    if sample.semantic is not None:
        item["semantic"] = torch.from_numpy(np.ascontiguousarray(sample.semantic)).long()
    if sample.box_labels:
        heat, box_target, weight = detection_targets(sample.boxes, sample.labels, h, w, num_det_classes)
        item.update(heat=heat, box_target=box_target, box_weight=weight)
    return item


def collate(items: list[dict]) -> dict:
    """Stack items; a target only some items have is dropped for the whole batch."""
    keys = set.intersection(*(set(item) for item in items))
    return {key: torch.stack([item[key] for item in items]) for key in keys}
