"""Augmentation keeps boxes, masks and class maps in step with the image."""

import numpy as np
import pytest

from apps.vision.augment import collate, dihedral, item_tensors, random_crop
from apps.vision.data import Sample
from apps.vision.losses import IGNORE


def _boxes_of(masks):
    out = []
    for m in masks:
        ys, xs = np.nonzero(m)
        out.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return np.asarray(out, np.float32)


def _sample(h=48, w=64):
    rng = np.random.default_rng(0)
    masks = np.zeros((2, h, w), bool)
    masks[0, 5:20, 8:30] = True
    masks[1, 30:44, 40:61] = True
    semantic = (masks[0] * 1 + masks[1] * 2).astype(np.uint8)
    image = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return Sample("s", image, semantic, _boxes_of(masks), np.array([0, 1]), masks)


@pytest.mark.parametrize("k", range(8))
def test_every_symmetry_moves_boxes_with_the_masks(k):
    s = dihedral(_sample(), k)
    np.testing.assert_array_equal(s.boxes, _boxes_of(s.masks))
    assert s.semantic.shape == s.image.shape[:2] == s.masks.shape[1:]
    np.testing.assert_array_equal(s.semantic > 0, s.masks.any(0))


def test_random_crop_clips_boxes_and_drops_mostly_hidden_ones():
    s = _sample()
    cropped = random_crop(s, 32, np.random.default_rng(3))
    assert cropped.image.shape == (32, 32, 3)
    assert len(cropped.boxes) == len(cropped.masks) == len(cropped.labels) == 1  # the other is mostly outside
    for box, mask in zip(cropped.boxes, cropped.masks):
        np.testing.assert_array_equal(box, _boxes_of(mask[None])[0])
    padded = random_crop(s, 80, np.random.default_rng(0))  # larger than the image: padded, padding ignored
    assert padded.image.shape == (80, 80, 3) and (padded.semantic[48:] == 255).all()


def test_a_crop_without_boxes_still_has_empty_detection_targets():
    """Box-only COCO data: a crop that loses every box must still teach "nothing here"."""
    emptied = Sample("b", _sample().image[:8, :8], None, np.zeros((0, 4), np.float32), np.zeros(0, np.int64), None)
    item = item_tensors(emptied, 2)
    assert "semantic" not in item and item["heat"].shape == (2, 2, 2) and item["heat"].sum() == 0


def test_collate_drops_targets_not_every_item_has():
    with_boxes = item_tensors(random_crop(_sample(), 32, np.random.default_rng(0)), 2)
    semantic_only = item_tensors(Sample("t", np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32), np.uint8),
                                        np.zeros((0, 4), np.float32), np.zeros(0, np.int64), None, box_labels=False), 2)
    batch = collate([with_boxes, semantic_only])
    assert set(batch) == {"image", "semantic"} and batch["image"].shape == (2, 32, 32, 3)


def _instances(seed: int, n: int = 6, size: int = 64) -> Sample:
    """Random ellipses (instance masks) on a noisy image; boxes read from the masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    masks = []
    for _ in range(n):
        cy, cx, ry, rx = rng.uniform(8, size - 8), rng.uniform(8, size - 8), rng.uniform(3, 7), rng.uniform(3, 7)
        masks.append(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1)
    masks = np.asarray(masks)
    for i in range(n):  # later masks on top: no pixel in two instances
        masks[i] &= ~masks[i + 1 :].any(0)
    masks = masks[masks.reshape(n, -1).sum(1) > 4]
    image = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    image[masks.any(0)] = 200
    return Sample(f"s{seed}", image, masks.any(0).astype(np.uint8), _boxes_of(masks),
                  np.zeros(len(masks), np.int64), masks)


def test_copy_paste_occludes_what_lies_beneath_and_keeps_boxes_tight():
    from apps.vision.transforms import MIN_PIXELS, copy_paste

    base, donor = _instances(1), _instances(2)
    out = copy_paste(base, donor, np.random.default_rng(0))
    assert len(out.masks) > len(base.masks) // 2 and (out.masks.sum(0) <= 1).all()  # disjoint
    assert (out.masks.reshape(len(out.masks), -1).sum(1) >= MIN_PIXELS).all()
    np.testing.assert_array_equal(out.boxes, _boxes_of(out.masks))
    np.testing.assert_array_equal(out.semantic > 0, out.masks.any(0))
    pasted = out.masks[-1]
    np.testing.assert_array_equal(out.image[pasted], donor.image[pasted])


@pytest.mark.parametrize("seed", range(6))
def test_strong_augmentation_moves_boxes_masks_and_class_map_with_the_image(seed):
    from apps.vision.transforms import geometric_pipeline, strong_augment

    sample = _instances(seed)
    out = strong_augment(sample, 48, np.random.default_rng(seed), geometric_pipeline((64, 64), 48, rotate=True))
    assert out.image.shape == (48, 48, 3) and out.masks.shape[1:] == (48, 48) == out.semantic.shape
    assert len(out.boxes) == len(out.labels) == len(out.masks)
    np.testing.assert_array_equal(out.boxes, _boxes_of(out.masks))  # tight boxes of what is visible
    inside = out.semantic != IGNORE
    np.testing.assert_array_equal(out.masks.any(0)[inside], (out.semantic > 0)[inside])
    assert (out.image[out.masks.any(0)].mean() > out.image[inside & ~out.masks.any(0)].mean())  # objects stay bright


def test_strong_items_are_a_pure_function_of_the_numpy_seed_and_leave_torch_alone():
    import torch

    from apps.vision.augment import TrainingImages

    data = TrainingImages([_instances(s) for s in range(4)], 48, 1, augment="strong")
    torch.manual_seed(5)
    before = torch.get_rng_state()
    np.random.seed(3)
    a = data[2]
    np.random.seed(3)
    b = data[2]
    assert torch.equal(torch.get_rng_state(), before)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("shape", [(40, 72), (96, 64)], ids=["smaller-than-the-crop", "taller-than-wide"])
def test_strong_augmentation_handles_other_shapes_and_no_instances(shape):
    from apps.vision.augment import TrainingImages

    h, w = shape
    rng = np.random.default_rng(0)
    empty = Sample("e", rng.integers(0, 255, (h, w, 3), dtype=np.uint8), np.zeros((h, w), np.uint8),
                   np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros((0, h, w), bool))
    data = TrainingImages([empty, _instances(3)], 48, 1, augment="strong", copy_paste=1.0)
    np.random.seed(0)
    for i in range(6):
        item = data[i % 2]
        assert item["image"].shape == (48, 48, 3) and item["semantic"].shape == (48, 48)
        assert item["heat"].shape == (1, 12, 12)


def test_strong_augmentation_keeps_object_scale_on_large_images():
    """Objects keep roughly their size (scale jitter is 0.75-1.33x of the image, not a resize to the crop)."""
    from apps.vision.transforms import geometric_pipeline, strong_augment

    size = 256
    masks = np.zeros((16, size, size), bool)
    for k in range(16):
        y, x = 16 + 60 * (k // 4), 16 + 60 * (k % 4)
        masks[k, y : y + 20, x : x + 20] = True
    image = np.where(masks.any(0)[..., None], 200, 20).astype(np.uint8)
    sample = Sample("big", image, masks.any(0).astype(np.uint8), _boxes_of(masks), np.zeros(16, np.int64), masks)
    sides = []
    for seed in range(8):
        out = strong_augment(sample, 64, np.random.default_rng(seed), geometric_pipeline((size, size), 64, rotate=False))
        whole = out.boxes[(out.boxes[:, 0] > 0) & (out.boxes[:, 1] > 0) & (out.boxes[:, 2] < 64) & (out.boxes[:, 3] < 64)]
        sides += list(whole[:, 2] - whole[:, 0])
    assert sides and 12 <= np.median(sides) <= 30  # 20 px objects, jittered; a resize to the crop would make them ~5 px
