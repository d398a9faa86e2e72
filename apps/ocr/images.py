"""Reading line images, and turning them into model input.

Model input is ink-positive float (paper 0, darkest ink 1) at a fixed height,
the width scaled with the aspect ratio and capped at ``max_width``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from shared.errors import DataError
from shared.limits import env_limit

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
MAX_PIXELS_ENV, MAX_PIXELS = "SEXTANT_MAX_IMAGE_PIXELS", 40_000_000  # refuse decompression bombs


def read_image(path: str | Path) -> np.ndarray:
    """A file as a ``uint8`` grayscale array; unreadable or empty files raise a one-line DataError."""
    try:
        with Image.open(path) as image:
            limit = env_limit(MAX_PIXELS_ENV, MAX_PIXELS)
            if image.width * image.height > limit:
                raise DataError(f"{path}: {image.width}x{image.height} is over the {limit:,.0f}-pixel limit "
                                f"({MAX_PIXELS_ENV})")
            array = np.asarray(image.convert("L"))
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as err:
        raise DataError(f"{path}: not a readable image ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    if array.size == 0 or min(array.shape) < 2:
        raise DataError(f"{path}: empty image")
    return array


def write_png(path: str | Path, image: np.ndarray) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, optimize=False)


def model_input(image: np.ndarray, height: int, max_width: int) -> torch.Tensor:
    """``[height, W]`` float32: inverted, contrast-stretched, resized keeping the aspect ratio."""
    if image.ndim != 2:
        raise DataError(f"expected a grayscale image, got shape {image.shape}")
    width = int(round(image.shape[1] * height / image.shape[0]))
    width = int(np.clip(width, 4, max_width))
    resized = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    ink = 255.0 - resized
    low, high = np.percentile(ink, 5), ink.max()
    ink = np.clip((ink - low) / max(high - low, 16.0), 0.0, 1.0)
    return torch.from_numpy(ink)


def pad_images(images: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B, 1, H, W_max]`` zero-padded on the right, and each image's width ``[B]``."""
    widths = torch.tensor([im.shape[1] for im in images], dtype=torch.long)
    batch = torch.zeros(len(images), 1, images[0].shape[0], int(widths.max()))
    for i, im in enumerate(images):
        batch[i, 0, :, : im.shape[1]] = im
    return batch, widths
