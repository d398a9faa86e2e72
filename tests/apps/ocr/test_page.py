"""Page composition, skew estimation, line segmentation and overlay pictures on synthetic pages."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from apps.ocr.plots import lines_overlay_png, overlay_png
from apps.ocr.page import compose_page, crop_lines, deskew, estimate_skew, read_page_lines, segment_lines
from shared.errors import DataError

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
TEXTS = ["The quick brown fox jumps", "over the lazy dog; judge", "my vow: pack gifts quickly",
         "Sphinx of black quartz", "hello world, again and again", "yellow gig jigs"]
PNG = b"\x89PNG\r\n\x1a\n"


def draw_line(text: str, pad: int = 6) -> np.ndarray:
    """Dark text on a white strip, as a uint8 array."""
    font = ImageFont.truetype(str(DEJAVU), 28) if DEJAVU.exists() else ImageFont.load_default(size=28)
    left, top, right, bottom = font.getbbox(text)
    strip = Image.new("L", (right + 2 * pad, bottom - top + 2 * pad), 255)
    ImageDraw.Draw(strip).text((pad, pad - top), text, font=font, fill=20)
    return np.asarray(strip)


@pytest.fixture(scope="module")
def lines() -> list[np.ndarray]:
    return [draw_line(text) for text in TEXTS]


def overlaps(a, b) -> bool:
    return min(a[1], b[1]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[2], b[2])


def test_segment_lines_finds_every_line_in_reading_order(lines):
    page = compose_page(lines, np.random.default_rng(0))
    boxes = segment_lines(page.image)
    assert len(boxes) == len(page.boxes) == 6
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    for found, true in zip(boxes, page.boxes):
        assert overlaps(found, true)
        assert all(not overlaps(found, other) for other in page.boxes if other != true)
    crops = crop_lines(page.image, boxes, pad=4)
    assert [c.shape[0] for c in crops] == [b[1] - b[0] + 8 for b in boxes]


@pytest.mark.parametrize("skew", [3.0, -2.5])
def test_skew_is_estimated_and_the_page_read(lines, skew):
    # Convention: positive = counter-clockwise as displayed; estimate_skew(compose_page(skew=a)) ~= a.
    page = compose_page(lines, np.random.default_rng(1), skew_degrees=skew)
    assert abs(estimate_skew(page.image) - skew) <= 0.5
    crops, boxes, straight, angle = read_page_lines(page.image)
    assert abs(angle - skew) <= 0.5 and len(crops) == len(boxes) == 6
    assert abs(estimate_skew(straight)) <= 0.5  # straightened pages measure as straight
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)


def test_large_page_is_downsampled_for_skew(lines):
    big = [np.kron(line, np.ones((2, 2), np.uint8)) for line in lines[:3]]
    page = compose_page(big, np.random.default_rng(2), skew_degrees=-3.7)
    assert page.image.shape[1] > 800
    straight, angle = deskew(page.image)
    assert abs(angle + 3.7) <= 0.5 and straight.dtype == np.uint8
    assert len(segment_lines(straight)) == 3


def test_compose_page_is_deterministic(lines):
    a = compose_page(lines[:3], np.random.default_rng(7), skew_degrees=1.5)
    b = compose_page(lines[:3], np.random.default_rng(7), skew_degrees=1.5)
    c = compose_page(lines[:3], np.random.default_rng(8), skew_degrees=1.5)
    assert np.array_equal(a.image, b.image) and a.boxes == b.boxes
    assert a.image.dtype == np.uint8 and not np.array_equal(a.image, c.image)


def test_blank_pages_and_bad_input():
    assert segment_lines(np.full((200, 300), 245, np.uint8)) == []
    noisy = compose_page([np.full((30, 200), 255, np.uint8)], np.random.default_rng(0)).image
    assert segment_lines(noisy) == [] and estimate_skew(noisy) == 0.0
    assert read_page_lines(noisy)[1] == []
    with pytest.raises(DataError):
        segment_lines(np.zeros(10, np.uint8))
    with pytest.raises(DataError):
        segment_lines(np.zeros((0, 5), np.uint8))
    with pytest.raises(DataError):
        compose_page([], np.random.default_rng(0))


def test_overlay_pngs(lines):
    page = compose_page(lines[:3], np.random.default_rng(3))
    boxes = segment_lines(page.image)
    data = overlay_png(page.image, boxes, TEXTS[:3], [0.93, 0.5, 0.71], title="page")
    assert data.startswith(PNG)
    picture = Image.open(io.BytesIO(data))
    assert picture.height > page.image.shape[0] and picture.width >= page.image.shape[1]
    data = lines_overlay_png(lines[:2], TEXTS[:2], [0.9, 0.8], references=TEXTS[:2], title="lines")
    assert data.startswith(PNG)
    assert Image.open(io.BytesIO(data)).height > sum(line.shape[0] for line in lines[:2])
    with pytest.raises(DataError):
        overlay_png(page.image, boxes, TEXTS[:1])
