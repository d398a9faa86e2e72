"""COCO instances: masks round-trip through RLE and JSON; polygons decode; bad files are one-line errors."""

import numpy as np
import pytest

from apps.vision.coco import (CocoAnnotation, CocoDataset, CocoImage, annotation_mask, load_coco, mask_to_segmentation,
                              parse_coco)
from shared.errors import DataError


def _masks():
    a = np.zeros((20, 30), dtype=bool)
    a[2:7, 3:11] = True
    b = np.zeros((20, 30), dtype=bool)
    b[10:18, 20:29] = True
    b[12:14, 22:25] = False  # a hole
    return [a, b]


def test_masks_round_trip_through_rle_and_json(tmp_path):
    anns = []
    for i, m in enumerate(_masks(), start=1):
        seg, bbox, area = mask_to_segmentation(m)
        anns.append(CocoAnnotation(i, 1, 1 + i % 2, bbox, area, 0, seg))
    CocoDataset([CocoImage(1, "a.png", 30, 20)], anns, [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}]).save(tmp_path / "i.json")
    loaded = load_coco(tmp_path / "i.json")
    assert loaded.image_root == tmp_path and loaded.image_path(loaded.images[0]) == tmp_path / "a.png"
    for ann, mask in zip(loaded.annotations, _masks()):
        assert np.array_equal(annotation_mask(ann, 20, 30), mask)
        assert ann.area == mask.sum()
    assert loaded.annotations[0].bbox == [3.0, 2.0, 8.0, 5.0]  # x, y, w, h
    assert [a.category_id for a in loaded.annotations] == [2, 1]


def test_polygon_and_uncompressed_rle_decode():
    data = {"images": [{"id": 7, "file_name": "p.png", "width": 10, "height": 10}],
            "categories": [{"id": 1, "name": "square"}],
            "annotations": [{"image_id": 7, "category_id": 1, "segmentation": [[2, 2, 6, 2, 6, 6, 2, 6]]},
                            {"image_id": 7, "category_id": 1, "segmentation": {"size": [10, 10], "counts": [0, 3, 97]}}]}
    ds = parse_coco(data)
    square = annotation_mask(ds.annotations[0], 10, 10)
    assert square[3:6, 3:6].all() and not square[8:, :].any() and not square[:, 8:].any()
    assert ds.annotations[0].bbox == pytest.approx([2, 2, 4, 4])  # derived from the polygon
    column = annotation_mask(ds.annotations[1], 10, 10)  # RLE is column-major: the first 3 pixels of column 0
    assert column[:3, 0].all() and column.sum() == 3


@pytest.mark.parametrize("mutate,reason", [
    (lambda d: d.pop("categories"), "lacks categories"),
    (lambda d: d["annotations"][0].update(image_id=99), "unknown image 99"),
    (lambda d: d["annotations"][0].update(category_id=5), "unknown category 5"),
    (lambda d: d["annotations"][0].update(bbox=[0, 0, -1, 2]), "bbox must be"),
    (lambda d: d["images"].append(dict(d["images"][0])), "duplicate image ids"),
])
def test_bad_files_are_one_line_errors(mutate, reason):
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}],
            "categories": [{"id": 1, "name": "x"}],
            "annotations": [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]}]}
    mutate(data)
    with pytest.raises(DataError, match=reason) as err:
        parse_coco(data)
    assert "\n" not in str(err.value)


def test_unreadable_file(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_coco(tmp_path / "bad.json")
    with pytest.raises(DataError, match="no such file"):
        load_coco(tmp_path / "missing.json")
