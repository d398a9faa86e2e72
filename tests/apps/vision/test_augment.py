"""Augmentation keeps boxes, masks and class maps in step with the image."""

import numpy as np
import pytest

from apps.vision.augment import collate, dihedral, item_tensors, random_crop
from apps.vision.data import Sample


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
