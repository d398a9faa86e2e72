"""Semantic segmentation data as two folders: images, and PNG label masks of the same stem.

A label mask holds one class id per pixel (0 is background unless the
dataset says otherwise): a single-channel 8- or 16-bit PNG, or a palette PNG
whose palette indices are the ids. 255 may mark void pixels that nobody is
scored on (Pascal VOC's convention). Images without a mask (and masks without
an image) are reported, not silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from shared.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass
class PairedFolders:
    pairs: list[tuple[Path, Path]]  # (image, mask), sorted by stem
    errors: list[dict] = field(default_factory=list)  # {"path", "reason"}


def _files(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    return {p.stem: p for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith(".")}


def pair_folders(images_dir: str | Path, masks_dir: str | Path) -> PairedFolders:
    """Match images to masks by file stem; unmatched files become error records."""
    images, masks = _files(Path(images_dir), IMAGE_SUFFIXES), _files(Path(masks_dir), (".png",))
    result = PairedFolders([(images[s], masks[s]) for s in sorted(images.keys() & masks.keys())])
    result.errors += [{"path": str(images[s]), "reason": "no label mask with this name"} for s in sorted(images.keys() - masks.keys())]
    result.errors += [{"path": str(masks[s]), "reason": "label mask without an image"} for s in sorted(masks.keys() - images.keys())]
    if not result.pairs:
        raise DataError(f"no image in {images_dir} has a label mask of the same name in {masks_dir}")
    return result


def read_label_mask(path: str | Path, num_classes: int | None = None, void: int | None = None) -> np.ndarray:
    """Class ids ``int64 [H, W]``; a one-line :class:`~shared.errors.DataError` for anything else.
    Pixels equal to ``void`` are left as they are (not checked against ``num_classes``)."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("L", "P", "I", "I;16", "1"):
                raise DataError(f"{path.name}: a label mask must have one channel of class ids, got mode {image.mode}")
            labels = np.asarray(image).astype(np.int64)
    except FileNotFoundError:
        raise DataError(f"{path.name}: no such file") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise DataError(f"{path.name}: unreadable label mask ({str(err).splitlines()[0]})") from None
    ids = labels if void is None else labels[labels != void]
    if num_classes is not None and ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise DataError(f"{path.name}: class ids {ids.min()}..{ids.max()} outside 0..{num_classes - 1}")
    return labels
