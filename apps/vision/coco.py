"""COCO instances files: read, validate, decode masks, and write them back.

The loader takes a user's own ``instances_*.json`` (boxes ``[x, y, w, h]``,
segmentations as polygons, uncompressed RLE or compressed RLE) and checks it:
every problem is a :class:`~shared.errors.DataError` with a one-line reason
(missing keys, annotations of unknown images or categories, bad boxes).
Masks are decoded and encoded with pycocotools, the reference implementation.
Files are written atomically; nothing is unpickled.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from shared.atomic import atomic_write_text
from shared.errors import DataError
from shared.paths import allowed_roots, confine


@dataclass
class CocoImage:
    id: int
    file_name: str
    width: int
    height: int


@dataclass
class CocoAnnotation:
    id: int
    image_id: int
    category_id: int
    bbox: list[float]  # [x, y, width, height] in pixels
    area: float
    iscrowd: int = 0
    segmentation: Any = None  # polygons [[x0, y0, x1, y1, ...], ...] or an RLE dict, or None (boxes only)


@dataclass
class CocoDataset:
    """One COCO instances file; ``image_root`` is where ``file_name`` paths resolve."""

    images: list[CocoImage]
    annotations: list[CocoAnnotation]
    categories: list[dict]  # {"id": int, "name": str}
    image_root: Path = field(default_factory=Path)

    def annotations_for(self, image_id: int) -> list[CocoAnnotation]:
        return [a for a in self.annotations if a.image_id == image_id]

    def image_path(self, image: CocoImage) -> Path:
        return self.image_root / image.file_name

    def to_dict(self) -> dict:
        return {"images": [asdict(i) for i in self.images], "annotations": [asdict(a) for a in self.annotations],
                "categories": self.categories}

    def save(self, path: str | Path) -> Path:
        """Write the instances JSON atomically."""
        atomic_write_text(Path(path), json.dumps(self.to_dict()) + "\n")
        return Path(path)


def _require(record: dict, keys: tuple[str, ...], what: str) -> None:
    missing = [k for k in keys if k not in record]
    if missing:
        raise DataError(f"{what} lacks {', '.join(missing)}")


def parse_coco(data: dict, image_root: str | Path = ".", source: str = "COCO file") -> CocoDataset:
    """Validate plain COCO data and build a :class:`CocoDataset`; every ``file_name`` must lie under
    ``image_root`` (or a folder in ``SEXTANT_ALLOWED_ROOTS``)."""
    if not isinstance(data, dict):
        raise DataError(f"{source}: expected a JSON object with images, annotations and categories")
    _require(data, ("images", "annotations", "categories"), source)
    images, roots = [], allowed_roots(image_root)
    for i, raw in enumerate(data["images"]):
        _require(raw, ("id", "file_name", "width", "height"), f"{source}: images[{i}]")
        confine(str(raw["file_name"]), image_root, f"{source}: images[{i}]", roots, "the image folder")
        images.append(CocoImage(int(raw["id"]), str(raw["file_name"]), int(raw["width"]), int(raw["height"])))
    categories = []
    for i, raw in enumerate(data["categories"]):
        _require(raw, ("id", "name"), f"{source}: categories[{i}]")
        categories.append({"id": int(raw["id"]), "name": str(raw["name"])})
    by_id, category_ids = {im.id: im for im in images}, {c["id"] for c in categories}
    if len(by_id) != len(images):
        raise DataError(f"{source}: duplicate image ids")
    annotations = []
    for i, raw in enumerate(data["annotations"]):
        what = f"{source}: annotations[{i}]"
        _require(raw, ("image_id", "category_id"), what)
        if raw["image_id"] not in by_id:
            raise DataError(f"{what} refers to unknown image {raw['image_id']}")
        if raw["category_id"] not in category_ids:
            raise DataError(f"{what} refers to unknown category {raw['category_id']}")
        image = by_id[raw["image_id"]]
        segmentation = raw.get("segmentation") or None
        bbox = raw.get("bbox")
        if bbox is None:
            if segmentation is None:
                raise DataError(f"{what} has neither bbox nor segmentation")
            bbox = _rle(segmentation, image.height, image.width, what)
            bbox = mask_utils.toBbox(bbox).tolist()
        if len(bbox) != 4 or bbox[2] < 0 or bbox[3] < 0:
            raise DataError(f"{what}: bbox must be [x, y, width, height] with width, height >= 0, got {bbox}")
        area = raw.get("area")
        if area is None:
            area = float(mask_utils.area(_rle(segmentation, image.height, image.width, what))) if segmentation \
                else float(bbox[2] * bbox[3])
        annotations.append(CocoAnnotation(int(raw.get("id", i + 1)), int(raw["image_id"]), int(raw["category_id"]),
                                          [float(v) for v in bbox], float(area), int(raw.get("iscrowd", 0)),
                                          segmentation))
    return CocoDataset(images, annotations, categories, Path(image_root))


def load_coco(path: str | Path, image_root: str | Path | None = None) -> CocoDataset:
    """Read an instances JSON; images resolve against ``image_root`` (default: the file's folder)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({str(err).splitlines()[0]})") from None
    return parse_coco(data, image_root if image_root is not None else path.parent, source=path.name)


def _rle(segmentation: Any, height: int, width: int, what: str = "segmentation") -> dict:
    """Any COCO segmentation as one compressed RLE."""
    try:
        if isinstance(segmentation, list):  # polygons
            polygons = [p for p in segmentation if len(p) >= 6]
            if not polygons:
                raise DataError(f"{what}: polygons need at least 3 points")
            return mask_utils.merge(mask_utils.frPyObjects(polygons, height, width))
        if isinstance(segmentation, dict) and "counts" in segmentation:
            if isinstance(segmentation["counts"], list):  # uncompressed RLE
                return mask_utils.frPyObjects(segmentation, height, width)
            counts = segmentation["counts"]
            return {"size": segmentation["size"], "counts": counts.encode() if isinstance(counts, str) else counts}
    except (TypeError, ValueError, KeyError) as err:
        raise DataError(f"{what}: unreadable segmentation ({err})") from None
    raise DataError(f"{what}: segmentation must be polygons or an RLE dict")


def annotation_mask(annotation: CocoAnnotation, height: int, width: int) -> np.ndarray:
    """The annotation's mask as ``bool [height, width]`` (its box when it has no segmentation)."""
    if annotation.segmentation is None:
        mask = np.zeros((height, width), dtype=bool)
        x, y, w, h = (int(round(v)) for v in annotation.bbox)
        mask[max(y, 0) : y + h, max(x, 0) : x + w] = True
        return mask
    return mask_utils.decode(_rle(annotation.segmentation, height, width, f"annotation {annotation.id}")).astype(bool)


def mask_to_segmentation(mask: np.ndarray) -> tuple[dict, list[float], float]:
    """A boolean mask as (compressed RLE with a JSON-ready ``counts`` string, bbox, area)."""
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    bbox = mask_utils.toBbox(rle).tolist()
    area = float(mask_utils.area(rle))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode()}, bbox, area


def instances_from_labels(labels: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """``(label, bool mask)`` for every non-zero label of an integer label image, in label order."""
    return [(int(v), labels == v) for v in np.unique(labels) if v != 0]
