"""Page images: compose synthetic pages from line images, straighten them and cut them into text lines.

Method. Ink is separated from paper with Otsu's threshold (a page whose two Otsu classes differ by
less than ``MIN_CONTRAST`` grey levels is blank). *Skew* is found by projection profiles: every ink
pixel ``(y, x)`` is projected onto the axis ``y cos a + x sin a`` for candidate angles ``a``; when ``a``
matches the page's skew the text lines fall into narrow rows, so the profile is sharpest (largest sum
of squares). A coarse search over ``[-max, max]`` is refined by a fine one around the best angle, on
a page downsampled to at most ``MAX_WIDTH`` pixels wide. *Lines* of a straight page are runs of rows
whose smoothed ink count exceeds a small fraction of the maximum; a run much taller than the median
is split at its deepest valley (touching lines), and connected components are attached to the run
holding their vertical centre, growing its box (by at most half a median line height) so ascenders,
descenders and i-dots stay with the line.

Conventions. Boxes are ``(top, bottom, left, right)`` pixel bounds with exclusive ends, so a line is
``image[top:bottom, left:right]``. Angles are in degrees, counter-clockwise positive as the image is
displayed (y axis pointing down), as in :func:`skimage.transform.rotate`: a page built with
``compose_page(..., skew_degrees=a)`` has ``estimate_skew(page) ~= a``, and ``rotate(page, -a)`` is straight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import uniform_filter1d
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops
from skimage.transform import rotate

from shared.errors import DataError

Box = tuple[int, int, int, int]
MAX_WIDTH = 800  # skew search works on pages at most this wide
MIN_CONTRAST = 40.0  # grey levels between ink and paper class means; below it a page is blank
BAND_FRACTION = 0.06  # a row is text when its smoothed ink count exceeds this fraction of the maximum
SPLIT_RATIO = 1.6  # bands taller than this times the median band are split at their deepest valley


@dataclass
class Page:
    """A composed page and the (top, bottom, left, right) box of every pasted line before skewing."""

    image: np.ndarray
    boxes: list[Box] = field(default_factory=list)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise DataError(f"expected a 2-D grayscale image, got an array of shape {image.shape}")
    if image.size == 0:
        raise DataError(f"expected a non-empty image, got one of shape {image.shape}")
    return image


def _rotate(image: np.ndarray, degrees: float, fill: float) -> np.ndarray:
    """``image`` rotated counter-clockwise by ``degrees``, the canvas grown to keep every pixel."""
    out = rotate(image.astype(np.float32), degrees, resize=True, order=1, cval=float(fill), preserve_range=True)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _ink(image: np.ndarray) -> np.ndarray:
    """Boolean ink mask (dark pixels) by Otsu's threshold; all False for a page with no contrast."""
    values = image.astype(np.float32)
    if values.max() - values.min() < MIN_CONTRAST:
        return np.zeros(image.shape, bool)
    threshold = threshold_otsu(values)
    ink = values <= threshold
    if values[~ink].mean() - values[ink].mean() < MIN_CONTRAST:
        return np.zeros(image.shape, bool)
    return ink


def compose_page(lines: list[np.ndarray], rng: np.random.Generator, skew_degrees: float = 0.0,
                 margin: tuple[int, int] = (30, 80), gap: tuple[int, int] = (8, 30), width: int | None = None,
                 paper: int = 245) -> Page:
    """Paste line images top to bottom on paper (random margins and gaps from ``rng``), then skew the page.

    ``margin`` and ``gap`` are inclusive pixel ranges. The page is ``widest line + 2 * margin[1]`` wide
    unless ``width`` is given; skewing grows the canvas so no ink is cut. ``boxes`` are in the unskewed page.
    """
    if not lines:
        raise DataError("compose_page needs at least one line image")
    lines = [_check_image(line) for line in lines]
    width = width if width is not None else max(line.shape[1] for line in lines) + 2 * margin[1]
    lefts = [int(rng.integers(margin[0], margin[1] + 1)) for _ in lines]
    gaps = [int(rng.integers(gap[0], gap[1] + 1)) for _ in lines[1:]] + [0]
    top, bottom = (int(rng.integers(margin[0], margin[1] + 1)) for _ in range(2))
    if any(left + line.shape[1] > width for left, line in zip(lefts, lines)):
        raise DataError(f"a line does not fit on a page {width} pixels wide")
    height = top + sum(line.shape[0] for line in lines) + sum(gaps) + bottom
    page = np.full((height, width), paper, np.uint8)
    boxes = []
    for line, left, space in zip(lines, lefts, gaps):
        h, w = line.shape
        region = page[top:top + h, left:left + w]
        np.minimum(region, line.astype(np.uint8), out=region)
        boxes.append((top, top + h, left, left + w))
        top += h + space
    if skew_degrees:
        page = _rotate(page, skew_degrees, paper)
    noisy = page.astype(np.float32) + rng.normal(0.0, 2.0, page.shape)
    return Page(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), boxes)


def _profile_score(ys: np.ndarray, xs: np.ndarray, degrees: float) -> float:
    """Sharpness (sum of squares) of the ink profile along ``y cos a + x sin a``."""
    a = np.deg2rad(degrees)
    proj = np.rint(ys * np.cos(a) + xs * np.sin(a)).astype(np.int64)
    counts = np.bincount(proj - proj.min())
    return float(np.dot(counts, counts))


def estimate_skew(image: np.ndarray, max_degrees: float = 5.0, step: float = 0.2) -> float:
    """Skew in degrees (counter-clockwise positive) such that ``rotate(image, -angle)`` is straight; 0 if blank."""
    image = _check_image(image)
    factor = int(np.ceil(image.shape[1] / MAX_WIDTH))
    if factor > 1:  # block means: skew angles survive isotropic downsampling
        h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
        image = image[:h, :w].astype(np.float32).reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    ys, xs = np.nonzero(_ink(image))
    if ys.size < 2:
        return 0.0
    ys, xs = ys - ys.mean(), xs - xs.mean()

    def best(candidates: np.ndarray) -> float:
        return float(candidates[int(np.argmax([_profile_score(ys, xs, a) for a in candidates]))])

    coarse_step = max(step, 0.5)
    angle = best(np.arange(-max_degrees, max_degrees + 1e-9, coarse_step))
    fine = np.arange(angle - coarse_step, angle + coarse_step + 1e-9, step)
    angle = best(fine[np.abs(fine) <= max_degrees + 1e-9])
    return round(angle, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def deskew(image: np.ndarray, max_degrees: float = 5.0) -> tuple[np.ndarray, float]:
    """The straightened image (canvas grown, filled with the median paper value) and the skew found."""
    image = _check_image(image)
    angle = estimate_skew(image, max_degrees)
    if angle == 0.0:
        return image.copy(), 0.0
    return _rotate(image, -angle, float(np.median(image))), angle


def _split_tall(bands: list[list[int]], profile: np.ndarray) -> list[list[int]]:
    """Split bands much taller than the median band at their deepest profile valley, until none is."""
    median = float(np.median([b - t for t, b in bands]))
    out: list[list[int]] = []
    todo = list(bands)
    while todo:
        top, bottom = todo.pop(0)
        margin = int(0.35 * median)
        if bottom - top > SPLIT_RATIO * median and bottom - margin - (top + margin) > 1:
            cut = top + margin + int(np.argmin(profile[top + margin:bottom - margin]))
            todo[:0] = [[top, cut], [cut + 1, bottom]]
        else:
            out.append([top, bottom])
    return out


def segment_lines(image: np.ndarray, min_line_height: int = 8) -> list[Box]:
    """Boxes ``(top, bottom, left, right)`` of the text lines of a straight page, top to bottom."""
    image = _check_image(image)
    ink = _ink(image)
    if not ink.any():
        return []
    profile = uniform_filter1d(ink.sum(axis=1).astype(np.float32), size=3)
    rows = np.concatenate([[False], profile > BAND_FRACTION * profile.max(), [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(rows))
    bands = _split_tall([[int(t), int(b)] for t, b in zip(edges[::2], edges[1::2])], profile)
    median = float(np.median([b - t for t, b in bands]))
    boxes = [[t, b, image.shape[1], 0, 0] for t, b in bands]  # top, bottom, left, right, ink pixels
    centres = np.array([(t + b) / 2 for t, b in bands])
    for region in regionprops(label(ink, connectivity=2)):
        r0, c0, r1, c1 = region.bbox
        centre = (r0 + r1) / 2
        inside = [i for i, (t, b) in enumerate(bands) if t <= centre < b]
        i = inside[0] if inside else int(np.argmin(np.abs(centres - centre)))
        if not inside and min(abs(centre - bands[i][0]), abs(centre - bands[i][1])) > median / 2:
            continue  # a speck far from every line
        box, reach = boxes[i], int(np.ceil(median / 2))  # a component touching the next line stops there
        box[0], box[1] = min(box[0], max(r0, bands[i][0] - reach)), max(box[1], min(r1, bands[i][1] + reach))
        box[2], box[3], box[4] = min(box[2], c0), max(box[3], c1), box[4] + int(region.area)
    most = max(box[4] for box in boxes)
    keep = [b for b in boxes if b[1] - b[0] >= min_line_height and b[4] >= max(10, 0.02 * most) and b[3] > b[2]]
    return sorted((int(t), int(b), int(left), int(right)) for t, b, left, right, _ in keep)


def crop_lines(image: np.ndarray, boxes: list[Box], pad: int = 4) -> list[np.ndarray]:
    """The line crops ``image[top - pad:bottom + pad, left - pad:right + pad]``, clipped to the image."""
    image = _check_image(image)
    h, w = image.shape
    return [image[max(0, t - pad):min(h, b + pad), max(0, left - pad):min(w, right + pad)].copy()
            for t, b, left, right in boxes]


def read_page_lines(image: np.ndarray, max_degrees: float = 5.0
                    ) -> tuple[list[np.ndarray], list[Box], np.ndarray, float]:
    """Deskew, segment and crop a page: (line crops, boxes in the deskewed image, deskewed image, angle)."""
    straight, angle = deskew(image, max_degrees)
    boxes = segment_lines(straight)
    return crop_lines(straight, boxes), boxes, straight, angle
