"""Scale and shape augmentation that moves boxes and masks with the pixels (``data.augment: strong``).

Built on ``torchvision.transforms.v2`` with ``tv_tensors``: the image, its instance masks
(``Mask [N, H, W]``), its boxes (``BoundingBoxes``) and its class map (a ``Mask [H, W]``)
go through one pipeline, so every geometric change applies to all of them alike:

1. **copy-paste** (Ghiasi et al., 2021; instance data): with probability ``copy_paste``,
   a random half of another training image's instances is pasted on top, occluding what
   lies beneath (an instance left with too few pixels is dropped);
2. one of the 8 **flips/rotations** of the square (:func:`apps.vision.augment.dihedral`);
3. **photometric distortion** (brightness, contrast and saturation, ``ColorJitter``; hue is left
   out: it costs more than the rest of the pipeline together on a CPU);
4. **zoom-out** (``RandomZoomOut``: the image placed on a larger empty canvas), then
   **affine** (rotation, scale, translation, shear; ``RandomAffine``) and **scale jitter**
   (``ScaleJitter``, 0.75x to 1.33x of the image's own size, so objects keep the scale they
   have at prediction time);
5. a random **crop** of ``crop`` pixels (padded when smaller), and ``SanitizeBoundingBoxes``:
   boxes under 2 pixels and their masks and labels are removed (the class map is kept out of
   that step: it would be cut whenever the box count equals its height).

Boxes of instance data are then re-read from the transformed masks (tight, where a rotated
box would be loose). Padding is background in the masks and ``IGNORE`` in the class map.

The v2 transforms draw from torch's global RNG; each item forks it, seeded from the item's
NumPy generator, so an item stays a pure function of the trainer's seeded NumPy state (exact
resume) and training draws nothing from the global torch RNG.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.ops import masks_to_boxes
from torchvision.transforms import v2

from apps.vision.data import Sample
from apps.vision.losses import IGNORE

MIN_PIXELS = 4  # an instance with fewer visible pixels after pasting or cropping is dropped


def copy_paste(sample: Sample, donor: Sample, rng: np.random.Generator) -> Sample:
    """``sample`` with a random half (at least one) of ``donor``'s instances pasted on top. Needs
    instance masks in both and the same image size; otherwise ``sample`` is returned as it is."""
    if (sample.masks is None or donor.masks is None or not len(donor.masks) or sample.image.shape != donor.image.shape
            or (sample.semantic is not None and donor.semantic is None)):
        return sample
    chosen = rng.permutation(len(donor.masks))[: max(1, len(donor.masks) // 2)]
    pasted = donor.masks[chosen].any(0)
    image = sample.image.copy()
    image[pasted] = donor.image[pasted]
    masks = sample.masks & ~pasted
    kept = masks.sum(axis=(1, 2)) >= MIN_PIXELS
    semantic = None
    if sample.semantic is not None and donor.semantic is not None:
        semantic = sample.semantic.copy()
        semantic[pasted] = donor.semantic[pasted]
    all_masks = np.concatenate([masks[kept], donor.masks[chosen]])
    boxes = masks_to_boxes(torch.from_numpy(all_masks)).numpy().astype(np.float32) if len(all_masks) else \
        np.zeros((0, 4), np.float32)
    boxes[:, 2:] += 1  # masks_to_boxes gives the last pixel; boxes end after it
    return replace(sample, image=image, semantic=semantic, masks=all_masks, boxes=boxes,
                   labels=np.concatenate([sample.labels[kept], donor.labels[chosen]]))


def geometric_pipeline(size: tuple[int, int], crop: int, rotate: bool) -> v2.Compose:
    """Photometric distortion, zoom-out, affine, scale jitter around ``size`` (the images' height and
    width), crop to ``crop``. ``rotate``: free rotation (only when tight boxes can be re-read from masks)."""
    fill = {tv_tensors.Image: 0, tv_tensors.Mask: 0}
    return v2.Compose([
        v2.RandomApply([v2.ColorJitter(brightness=0.25, contrast=0.25, saturation=0.2)], p=0.8),
        v2.RandomZoomOut(fill=fill, side_range=(1.0, 1.5), p=0.2),
        v2.RandomApply([v2.RandomAffine(degrees=180 if rotate else 0, translate=(0.1, 0.1), scale=(0.9, 1.1),
                                        shear=5, fill=fill)], p=0.5),
        v2.ScaleJitter(target_size=size, scale_range=(0.75, 1.33), antialias=True),
        v2.RandomCrop(crop, pad_if_needed=True, fill=fill),
    ])


SANITIZE = v2.SanitizeBoundingBoxes(min_size=2)


def strong_augment(sample: Sample, crop: int, rng: np.random.Generator, pipeline: v2.Compose) -> Sample:
    """``sample`` through ``pipeline`` (see :func:`geometric_pipeline`), run under a torch RNG
    seeded from ``rng``, then sanitized; class-map padding becomes ``IGNORE``."""
    h, w = sample.image.shape[:2]
    inputs: dict = {"image": tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(sample.image)).permute(2, 0, 1)),
                    "boxes": tv_tensors.BoundingBoxes(torch.from_numpy(sample.boxes.reshape(-1, 4)), format="XYXY",
                                                      canvas_size=(h, w)),
                    "labels": torch.from_numpy(sample.labels)}
    if sample.masks is not None:
        inputs["masks"] = tv_tensors.Mask(torch.from_numpy(np.ascontiguousarray(sample.masks)).to(torch.uint8))
    if sample.semantic is not None:  # shifted by one so padding (0) is told apart from background
        shifted = np.where(sample.semantic == IGNORE, 0, sample.semantic.astype(np.int64) + 1).astype(np.uint8)
        inputs["semantic"] = tv_tensors.Mask(torch.from_numpy(shifted))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(rng.integers(2**62)))
        out = pipeline(inputs)
    moved = out["masks"].numpy().astype(bool).any(0) if sample.masks is not None else None
    out.update(SANITIZE({k: out[k] for k in ("boxes", "labels", "masks") if k in out}))
    image = out["image"].permute(1, 2, 0).numpy()
    labels = out["labels"].numpy().astype(np.int64)
    boxes = out["boxes"].numpy().astype(np.float32).reshape(-1, 4)
    masks = semantic = None
    if sample.masks is not None:
        masks = out["masks"].numpy().astype(bool).reshape(-1, *image.shape[:2])
        kept = masks.sum(axis=(1, 2)) >= MIN_PIXELS
        masks, labels = masks[kept], labels[kept]
        boxes = masks_to_boxes(torch.from_numpy(masks)).numpy().astype(np.float32) if len(masks) else \
            np.zeros((0, 4), np.float32)
        boxes[:, 2:] += 1
    if sample.semantic is not None:
        shifted = out["semantic"].numpy().astype(np.int64)
        semantic = np.where(shifted == 0, IGNORE, shifted - 1).astype(np.uint8)
        if moved is not None:  # slivers dropped as instances are not scored as classes either
            semantic[moved & ~(masks.any(0) if len(masks) else np.zeros_like(moved))] = IGNORE
    return replace(sample, image=np.ascontiguousarray(image), boxes=boxes, labels=labels, masks=masks,
                   semantic=semantic)
