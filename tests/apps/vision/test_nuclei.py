"""StarDist nuclei tiled into COCO: spatially disjoint splits, instances that match the label image."""

import numpy as np
from PIL import Image

from apps.vision.coco import annotation_mask, load_coco
from apps.vision.datasets.nuclei import load_stardist_nuclei, tile_split


def test_shipped_image_and_labels():
    image, labels = load_stardist_nuclei()
    assert image.shape == labels.shape == (512, 512) and image.dtype == np.uint8
    assert len(np.unique(labels)) - 1 == 125  # 125 labelled nuclei


def test_tiles_cover_the_image_once_and_splits_are_disjoint():
    splits = tile_split(512, 512, 128, seed=3)
    covered = np.zeros((512, 512), dtype=int)
    for tiles in splits.values():
        for t in tiles:
            covered[t.y : t.y + t.size, t.x : t.x + t.size] += 1
    assert (covered == 1).all()
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [11, 2, 3]
    assert tile_split(512, 512, 128, seed=3) == splits  # deterministic


def test_coco_tiles_match_the_label_image(tmp_path):
    from apps.vision.datasets.nuclei import build_nuclei_coco

    paths = build_nuclei_coco(tmp_path, tile=128, seed=0, min_area=1)
    _, labels = load_stardist_nuclei()
    total = 0
    for split, path in paths.items():
        ds = load_coco(path)
        for im in ds.images:
            y, x = (int(v[1:]) for v in im.file_name.split("/")[1][5:-4].split("_"))
            crop = labels[y : y + 128, x : x + 128]
            anns = ds.annotations_for(im.id)
            assert len(anns) == len(np.unique(crop)) - 1
            union = np.zeros((128, 128), dtype=bool)
            for a in anns:
                union |= annotation_mask(a, 128, 128)
            assert np.array_equal(union, crop > 0)
            assert np.asarray(Image.open(ds.image_path(im))).shape == (128, 128)
            total += len(anns)
    assert total >= 125  # nuclei cut by tile borders count once per tile
