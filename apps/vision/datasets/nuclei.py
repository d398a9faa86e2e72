"""Real labelled nuclei: StarDist's 512x512 fluorescence image, tiled into a COCO dataset.

The ``stardist`` wheel ships ``data/images/img2d.tif`` (the image) and
``mask2d.tif`` (one integer label per nucleus, 125 of them). The package is
installed ``--no-deps`` and never imported (importing it pulls in
TensorFlow); the two files are read with Pillow.

The image is cut into a grid of non-overlapping square tiles and whole tiles
are assigned to train, valid and test by a seeded shuffle, so no pixel is in
two splits. A nucleus cut by a tile border becomes one instance per tile it
touches (the usual convention when tiling microscopy), keeping only pieces of
at least ``min_area`` pixels. Each split is written as PNG tiles plus a COCO
``instances_<split>.json`` with RLE masks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from apps.vision.coco import CocoAnnotation, CocoDataset, CocoImage, instances_from_labels, mask_to_segmentation
from apps.vision.images import png_bytes, to_uint8
from shared.atomic import atomic_write_bytes
from shared.errors import DataError
from shared.package_data import package_dir

SPLITS = ("train", "valid", "test")
CATEGORIES = [{"id": 1, "name": "nucleus"}]


def stardist_files() -> tuple[Path, Path]:
    """Paths of the shipped image and label mask, found without importing stardist."""
    root = package_dir("stardist") / "data" / "images"
    return root / "img2d.tif", root / "mask2d.tif"


def load_stardist_nuclei() -> tuple[np.ndarray, np.ndarray]:
    """The image as ``uint8 [512, 512]`` (1st-99.8th percentile scaled) and its labels ``int32 [512, 512]``."""
    image_path, mask_path = stardist_files()
    image = np.asarray(Image.open(image_path))  # uint16
    labels = np.asarray(Image.open(mask_path)).astype(np.int32)
    return to_uint8(image), labels


@dataclass(frozen=True)
class Tile:
    y: int
    x: int
    size: int

    @property
    def name(self) -> str:
        return f"tile_y{self.y:04d}_x{self.x:04d}"


def tile_split(height: int, width: int, size: int, fractions: tuple[float, float, float] = (0.7, 0.1, 0.2),
               seed: int = 0) -> dict[str, list[Tile]]:
    """Non-overlapping ``size`` tiles covering the image, whole tiles shuffled into the splits
    (at least one tile each for valid and test)."""
    tiles = [Tile(y, x, size) for y in range(0, height - size + 1, size) for x in range(0, width - size + 1, size)]
    if len(tiles) < 3:
        raise DataError(f"a {height}x{width} image gives {len(tiles)} tile(s) of {size}: need at least 3")
    order = tiles[:]
    random.Random(seed).shuffle(order)
    n_test = max(1, round(fractions[2] * len(order)))
    n_valid = max(1, round(fractions[1] * len(order)))
    return {"test": order[:n_test], "valid": order[n_test : n_test + n_valid], "train": order[n_test + n_valid :]}


def tile_instances(labels: np.ndarray, tile: Tile, min_area: int) -> list[np.ndarray]:
    """Masks (tile-sized) of the nuclei in ``tile``, pieces under ``min_area`` pixels dropped."""
    crop = labels[tile.y : tile.y + tile.size, tile.x : tile.x + tile.size]
    return [m for _, m in instances_from_labels(crop) if m.sum() >= min_area]


def build_nuclei_coco(out_dir: str | Path, tile: int = 128, seed: int = 0, min_area: int = 8) -> dict[str, Path]:
    """Write ``<out>/<split>/*.png`` and ``<out>/instances_<split>.json`` for train/valid/test."""
    out = Path(out_dir)
    image, labels = load_stardist_nuclei()
    written = {}
    for split, tiles in tile_split(*image.shape, tile, seed=seed).items():
        images, annotations = [], []
        for image_id, t in enumerate(sorted(tiles, key=lambda t: (t.y, t.x)), start=1):
            file_name = f"{split}/{t.name}.png"
            crop = image[t.y : t.y + t.size, t.x : t.x + t.size]
            atomic_write_bytes(out / file_name, png_bytes(crop))
            images.append(CocoImage(image_id, file_name, t.size, t.size))
            for mask in tile_instances(labels, t, min_area):
                segmentation, bbox, area = mask_to_segmentation(mask)
                annotations.append(CocoAnnotation(len(annotations) + 1, image_id, 1, bbox, area, 0, segmentation))
        dataset = CocoDataset(images, annotations, CATEGORIES, out)
        written[split] = dataset.save(out / f"instances_{split}.json")
    return written


def write_nuclei_instances(path: str | Path, tile: int = 128, min_area: int = 8) -> Path:
    """Every tile in one COCO file, as a user would have it: ``<folder>/images/<tile>.png`` and the
    instances JSON at ``path`` (unsplit: ``sextant vision`` splits it)."""
    path = Path(path)
    image, labels = load_stardist_nuclei()
    tiles = [t for split in tile_split(*image.shape, tile).values() for t in split]
    images, annotations = [], []
    for image_id, t in enumerate(sorted(tiles, key=lambda t: (t.y, t.x)), start=1):
        file_name = f"images/{t.name}.png"
        atomic_write_bytes(path.parent / file_name, png_bytes(image[t.y : t.y + t.size, t.x : t.x + t.size]))
        images.append(CocoImage(image_id, file_name, t.size, t.size))
        for mask in tile_instances(labels, t, min_area):
            segmentation, bbox, area = mask_to_segmentation(mask)
            annotations.append(CocoAnnotation(len(annotations) + 1, image_id, 1, bbox, area, 0, segmentation))
    return CocoDataset(images, annotations, CATEGORIES, path.parent).save(path)

