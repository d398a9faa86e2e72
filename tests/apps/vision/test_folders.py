"""Image + label-mask folders: pairing by name, unmatched files reported, masks validated."""

import numpy as np
import pytest
from PIL import Image

from apps.vision.datasets.scenes import CLASSES, SceneConfig, write_scenes
from apps.vision.folders import pair_folders, read_label_mask
from apps.vision.images import read_rgb
from shared.errors import DataError


def test_generated_scenes_load_as_image_and_mask_folders(tmp_path):
    write_scenes(tmp_path, SceneConfig(images=5, size=48))
    (tmp_path / "train" / "00099.png").write_bytes((tmp_path / "train" / "00001.png").read_bytes())  # no mask
    paired = pair_folders(tmp_path / "train", tmp_path / "train_labels")
    assert len(paired.pairs) == 5
    assert paired.errors == [{"path": str(tmp_path / "train" / "00099.png"), "reason": "no label mask with this name"}]
    image, labels = read_rgb(paired.pairs[0][0]), read_label_mask(paired.pairs[0][1], len(CLASSES) + 1)
    assert image.shape[:2] == labels.shape == (48, 48) and labels.max() <= len(CLASSES)


def test_bad_masks_are_one_line_errors(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    Image.fromarray(np.full((4, 4), 9, np.uint8)).save(tmp_path / "nine.png")
    with pytest.raises(DataError, match="one channel"):
        read_label_mask(tmp_path / "rgb.png")
    with pytest.raises(DataError, match="outside 0..4"):
        read_label_mask(tmp_path / "nine.png", num_classes=5)
    with pytest.raises(DataError, match="has a label mask"):
        pair_folders(tmp_path, tmp_path / "..")
