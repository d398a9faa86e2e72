"""The user's own data: a COCO file (split here) or split COCO files, image + mask folders (split
here, or in train/valid/test sub-folders); class names, the split rule and the prepared folder's key."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from apps.vision.app import APP
from apps.vision.data import load_prepared, split_items
from shared.errors import DataError


def _mask_folders(root: Path, n: int, values=(0, 1), size=24, seed=0) -> Path:
    """``n`` random images with class-index masks (values cycling through ``values``) under root/images, root/masks."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for k in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / "images" / f"im{k:02d}.png")
        mask = np.zeros((size, size), np.uint8)
        mask[: size // 2] = values[k % len(values)]
        mask[size // 2 :, : size // 2] = values[(k + 1) % len(values)]
        Image.fromarray(mask).save(root / "masks" / f"im{k:02d}.png")
    return root


def _prepared(folder, *overrides):
    cfg = APP.with_data(APP.load_config("tiny", list(overrides)), str(folder))
    data = APP.prepare(cfg, APP.prepared_dir(cfg))
    return cfg, data


def test_the_split_is_seeded_image_level_and_keeps_valid_and_test(tmp_path):
    items = list(range(20))
    parts = split_items(items, [0.7, 0.15, 0.15], seed=0)
    assert [len(parts[s]) for s in ("train", "valid", "test")] == [14, 3, 3]
    assert sorted(sum(parts.values(), [])) == items  # every image in exactly one split
    assert parts == split_items(items, [0.7, 0.15, 0.15], seed=0) != split_items(items, [0.7, 0.15, 0.15], seed=1)
    assert [len(v) for v in split_items(items[:3], [0.8, 0.1, 0.1], 0).values()] == [1, 1, 1]
    with pytest.raises(DataError, match="at least 3"):
        split_items(items[:2], [0.7, 0.15, 0.15], 0)


def test_one_coco_file_is_split_and_its_images_resolve_next_to_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sample = APP.sample_files(tmp_path / "mine")
    cfg, data = _prepared(sample.data)
    assert cfg.data.dataset == "coco" and cfg.data.name == "cells" and APP.registry_name(cfg) == "vision-cells"
    report = APP.validate(cfg, data)
    assert report.items == 16 and report.splits == {"train": 12, "valid": 2, "test": 2}
    assert "seeded image-level split of your 16 images" in report.details["split"]
    names = {s: {im["file_name"] for im in json.loads((data / f"{s}.json").read_text())["images"]} for s in report.splits}
    assert not (names["train"] & names["test"]) and not (names["valid"] & names["test"])
    prepared = load_prepared(data)
    assert prepared.labels.semantic == ["background", "nucleus"] and prepared.truth["test"].image_root == tmp_path / "mine"
    # another seed, another split and another prepared folder
    _, other = _prepared(sample.data, "data.seed=1")
    assert other != data and (other / "test.json").read_text() != (data / "test.json").read_text()


def test_a_changed_file_is_prepared_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sample = APP.sample_files(tmp_path / "mine")
    cfg = APP.with_data(APP.load_config("tiny"), sample.data)
    before = APP.prepared_dir(cfg)
    os.utime(sample.data, ns=(1, 1))
    assert APP.prepared_dir(cfg) != before and APP.prepared_dir(cfg).parent == Path("data/cache/vision")


def test_a_folder_of_split_coco_files_is_used_as_given(tiny_vision, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = Path(tiny_vision["data"])
    (tmp_path / "split").mkdir()
    for split, name in (("train", "train"), ("valid", "val"), ("test", "instances_test")):
        (tmp_path / "split" / f"{name}.json").write_text((source / f"instances_{split}.json").read_text())
        (tmp_path / "split" / split).symlink_to(source / split)
    cfg, data = _prepared("split")
    assert set(cfg.data.coco) == {"train", "valid", "test"} and cfg.data.name == "split"
    report = APP.validate(cfg, data)
    assert report.splits == {"train": 11, "valid": 2, "test": 3} and "your own test split" in report.details["split"]


def test_image_and_mask_folders_are_split_and_classes_inferred(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _mask_folders(tmp_path / "roads", 10)
    cfg, data = _prepared("roads")
    assert cfg.data.dataset == "folders" and APP.registry_name(cfg) == "vision-roads"
    report = APP.validate(cfg, data)
    assert report.splits == {"train": 6, "valid": 2, "test": 2} and report.details["classes"] == "background, foreground"
    _mask_folders(tmp_path / "multi", 6, values=(0, 1, 3))
    assert APP.validate(*_prepared("multi")).details["classes"] == "background, class_1, class_2, class_3"
    _, named = _prepared("multi", "data.classes=[bg,a,b,c]")
    assert load_prepared(named).labels.semantic == ["bg", "a", "b", "c"]
    with pytest.raises(DataError, match="class ids up to 3.*2 classes"):
        _prepared("multi", "data.classes=[bg,a]")


def test_binary_255_masks_are_foreground_and_voc_void_is_ignored(tmp_path, monkeypatch):
    from apps.vision.losses import IGNORE

    monkeypatch.chdir(tmp_path)
    _mask_folders(tmp_path / "binary", 5, values=(0, 255))
    samples = load_prepared(_prepared("binary")[1]).samples
    assert all(set(np.unique(s.semantic)) <= {0, 1} for split in samples.values() for s in split)
    assert any(s.semantic.max() == 1 for split in samples.values() for s in split)
    _mask_folders(tmp_path / "voc", 5, values=(0, 2, 255))
    prepared = load_prepared(_prepared("voc")[1])
    assert prepared.labels.semantic == ["background", "class_1", "class_2"]
    assert any((s.semantic == IGNORE).any() for split in prepared.samples.values() for s in split)


def test_train_valid_test_folders_are_used_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for seed, (split, n) in enumerate((("train", 4), ("valid", 2), ("test", 3))):
        _mask_folders(tmp_path / "given" / split, n, seed=seed)
    cfg, data = _prepared("given")
    assert APP.validate(cfg, data).splits == {"train": 4, "valid": 2, "test": 3}


def test_what_data_cannot_be_read_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="COCO instances .json"):
        APP.with_data(APP.load_config("tiny"), "notes.txt")
    with pytest.raises(DataError, match="expected a COCO .json file"):
        APP.with_data(APP.load_config("tiny"), "empty")
    with pytest.raises(DataError, match="no such file"):
        APP.with_data(APP.load_config("tiny"), "missing.json")
    _mask_folders(tmp_path / "unpaired", 4)
    (tmp_path / "unpaired" / "masks" / "im00.png").unlink()
    with pytest.raises(DataError, match="unpaired"):
        _prepared("unpaired")
    _mask_folders(tmp_path / "two", 2)
    with pytest.raises(DataError, match="at least 3"):
        _prepared("two")
