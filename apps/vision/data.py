"""Labelled images in memory, training augmentation, and batches with dense targets.

A :class:`Sample` is one image with whatever labels its source has: COCO
instances give boxes, instance masks and (painted from the masks) a semantic
class map; image + label-mask folders give only the class map, so a model
trained on them learns segmentation alone. Images are small here, so a whole
split is held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from apps.vision.coco import CocoDataset, annotation_mask
from apps.vision.folders import pair_folders, read_label_mask
from apps.vision.images import read_rgb
from apps.vision.losses import IGNORE, detection_targets
from apps.vision.model import STRIDE
from shared.errors import DataError


@dataclass
class Sample:
    name: str
    image: np.ndarray  # uint8 [H, W, 3]
    semantic: np.ndarray | None  # uint8 [H, W] class ids (0 = background)
    boxes: np.ndarray  # float32 [N, 4] xyxy pixels
    labels: np.ndarray  # int64 [N] 0-based detection class
    masks: np.ndarray | None  # bool [N, H, W] instance masks, when the source has them
    # The source labels boxes (COCO), so an image or crop with none has "no objects" as its
    # detection target; image + mask folders have no box labels at all.
    box_labels: bool = True


@dataclass
class LabelSpace:
    """Class names: ``semantic`` includes background at 0; ``detection`` does not."""

    semantic: list[str]
    detection: list[str]


def coco_label_space(dataset: CocoDataset) -> tuple[LabelSpace, dict[int, int]]:
    """Class names and the map from COCO category id to 0-based detection class."""
    categories = sorted(dataset.categories, key=lambda c: c["id"])
    index = {int(c["id"]): i for i, c in enumerate(categories)}
    names = [str(c["name"]) for c in categories]
    return LabelSpace(["background", *names], names), index


def samples_from_coco(dataset: CocoDataset, category_index: dict[int, int]) -> list[Sample]:
    """One sample per image; boxes from ``bbox``, masks and class map from segmentations (when present)."""
    samples = []
    for image in dataset.images:
        pixels = read_rgb(dataset.image_path(image))
        if pixels.shape[:2] != (image.height, image.width):
            raise DataError(f"{image.file_name}: is {pixels.shape[1]}x{pixels.shape[0]}, "
                            f"the COCO file says {image.width}x{image.height}")
        anns = [a for a in dataset.annotations_for(image.id) if not a.iscrowd]
        boxes = np.array([[a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]] for a in anns],
                         dtype=np.float32).reshape(-1, 4)
        labels = np.array([category_index[a.category_id] for a in anns], dtype=np.int64)
        masks = semantic = None
        if anns and all(a.segmentation is not None for a in anns):
            masks = np.stack([annotation_mask(a, image.height, image.width) for a in anns]).astype(bool)
        if masks is not None or not anns:
            semantic = np.zeros((image.height, image.width), dtype=np.uint8)
            for label, mask in zip(labels, masks if masks is not None else [], strict=True):
                semantic[mask] = label + 1
            for crowd in (a for a in dataset.annotations_for(image.id) if a.iscrowd and a.segmentation is not None):
                semantic[annotation_mask(crowd, image.height, image.width).astype(bool)] = IGNORE  # scored by nobody
            masks = masks if masks is not None else np.zeros((0, image.height, image.width), dtype=bool)
        samples.append(Sample(Path(image.file_name).stem, pixels, semantic, boxes, labels, masks))
    return samples


def samples_from_folders(images_dir: str | Path, masks_dir: str | Path, num_classes: int) -> list[Sample]:
    """Semantic-only samples from an image folder and a folder of same-named PNG class masks."""
    pairs = pair_folders(images_dir, masks_dir)
    if pairs.errors:
        first = pairs.errors[0]
        raise DataError(f"{len(pairs.errors)} unpaired file(s) in {images_dir} / {masks_dir}, e.g. "
                        f"{Path(first['path']).name}: {first['reason']}")
    samples = []
    for image_path, mask_path in pairs.pairs:
        name = image_path.stem
        image = read_rgb(image_path)
        semantic = read_label_mask(mask_path, num_classes)
        if semantic.shape != image.shape[:2]:
            raise DataError(f"{name}: mask {semantic.shape} and image {image.shape[:2]} differ in size")
        samples.append(Sample(name, image, semantic.astype(np.uint8), np.zeros((0, 4), np.float32),
                              np.zeros(0, np.int64), None, box_labels=False))
    return samples


# ----------------------------------------------------------------- augmentation
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


class TrainingImages(Dataset):
    """Augmented training items: each draw picks a random crop, symmetry and photometric change
    from NumPy's global RNG, which the trainer seeds and restores on resume."""

    def __init__(self, samples: list[Sample], crop: int, num_det_classes: int, repeats: int = 1,
                 augment: bool = True):
        if not samples:
            raise DataError("no training images")
        self.samples, self.crop, self.k, self.repeats, self.augment = samples, crop, num_det_classes, repeats, augment

    def __len__(self) -> int:
        return len(self.samples) * self.repeats

    def __getitem__(self, index: int) -> dict:
        rng = np.random.default_rng(np.random.randint(2**31))
        sample = self.samples[index % len(self.samples)]
        if self.augment:
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
