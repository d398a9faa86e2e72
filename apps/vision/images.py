"""Image files: reading anything a user points us at as RGB ``uint8``, and writing PNGs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from shared.errors import DataError
from shared.limits import env_limit


def png_bytes(array: np.ndarray) -> bytes:
    """A ``uint8`` array (``[H, W]`` or ``[H, W, 3]``) encoded as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale any numeric image to ``uint8``: 8-bit as is; 16-bit, float and other ranges by their
    1st-99.8th percentiles (microscopy and 16-bit scans rarely use the full range). NaN and
    infinite pixels (float TIFFs) become the darkest value; an image with no finite pixel is a
    :class:`~shared.errors.DataError`."""
    if array.dtype == np.uint8:
        return array
    values = array.astype(np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        if not finite.any():
            raise DataError("no finite pixel values")
        values = np.where(finite, values, values[finite].min())
    low, high = np.percentile(values, [1.0, 99.8])
    if high <= low:
        high = low + 1.0
    return (np.clip((values - low) / (high - low), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


MAX_PIXELS_ENV, MAX_PIXELS = "SEXTANT_MAX_IMAGE_PIXELS", 40_000_000  # larger images are refused unread


def read_rgb(path: str | Path) -> np.ndarray:
    """An image file as ``uint8 [H, W, 3]``: grayscale is repeated to 3 channels, alpha dropped,
    palette and CMYK converted, 16-bit and float scaled. A file that cannot be read, or whose
    channels make no sense, raises :class:`~shared.errors.DataError` with a one-line reason."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            limit = env_limit(MAX_PIXELS_ENV, MAX_PIXELS)
            if image.width * image.height > limit:  # checked on the header, before decoding
                raise DataError(f"{path.name}: {image.width}x{image.height} is over the {limit:,.0f}-pixel limit "
                                f"({MAX_PIXELS_ENV})")
            image.load()  # truncated files fail here, not later
            if image.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                image = image.convert("RGBA" if image.mode == "PA" else "RGB")
            array = np.asarray(image)
    except FileNotFoundError:
        raise DataError(f"{path.name}: no such file") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"{path.name}: unreadable image ({str(err).splitlines()[0] or type(err).__name__})") from None
    try:
        return _as_rgb(array)
    except DataError as err:
        raise DataError(f"{path.name}: {err}") from None


def _as_rgb(array: np.ndarray) -> np.ndarray:
    """A decoded image array as ``uint8 [H, W, 3]`` (see :func:`read_rgb`); a DataError says why not."""
    if array.ndim == 2:
        array = np.repeat(to_uint8(array)[..., None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] in (1, 2):  # gray (+ alpha)
        array = np.repeat(to_uint8(array[..., :1]), 3, axis=2)
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        array = to_uint8(array[..., :3])
    else:
        raise DataError(f"unsupported image shape {array.shape}")
    if min(array.shape[:2]) < 1:
        raise DataError("empty image")
    return np.ascontiguousarray(array)
