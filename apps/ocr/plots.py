"""Pictures of what was read: each line's ink with the recognised text in a band right under it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from shared.errors import DataError

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
BOX = (230, 120, 0)  # orange line boxes
TEXT, BAND = (20, 60, 200), (228, 238, 255)  # blue text on a light blue band
REFERENCE, TITLE_BAND = (110, 110, 110), (40, 40, 40)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    size = int(np.clip(size, 12, 36))
    return ImageFont.truetype(str(DEJAVU), size) if DEJAVU.exists() else ImageFont.load_default(size=size)


def _rgb(image: np.ndarray) -> Image.Image:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.size == 0:
        raise DataError(f"expected a grayscale or RGB image, got an array of shape {image.shape}")
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).convert("RGB")


def _label(text: str, confidence: float | None) -> str:
    return text if confidence is None else f"{confidence:.2f} | {text}"


def _band(rows: list[tuple[str, tuple[int, int, int]]], font, width: int, fill=BAND) -> Image.Image:
    """A band holding one text row per entry, at least ``width`` wide (wider if the text needs it)."""
    step = int(font.size * 1.35) if hasattr(font, "size") else 16
    need = max((int(font.getlength(text)) for text, _ in rows), default=0) + 12
    band = Image.new("RGB", (max(width, need), step * len(rows) + 6), fill)
    draw = ImageDraw.Draw(band)
    for k, (text, colour) in enumerate(rows):
        draw.text((6, 3 + k * step), text, fill=colour, font=font)
    return band


def _stack(parts: list[Image.Image]) -> bytes:
    """Parts one under the other on white, encoded as PNG."""
    canvas = Image.new("RGB", (max(p.width for p in parts), sum(p.height for p in parts)), (255, 255, 255))
    top = 0
    for part in parts:
        canvas.paste(part, (0, top))
        top += part.height
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()


def _check(n: int, texts: list[str], confidences: list[float] | None, references: list[str] | None = None) -> None:
    for name, values in (("texts", texts), ("confidences", confidences), ("references", references)):
        if values is not None and len(values) != n:
            raise DataError(f"got {len(values)} {name} for {n} lines")


def overlay_png(image: np.ndarray, boxes: list[tuple[int, int, int, int]], texts: list[str],
                confidences: list[float] | None = None, title: str | None = None) -> bytes:
    """The page with every (top, bottom, left, right) line box drawn and, under each line, its text and confidence."""
    _check(len(boxes), texts, confidences)
    page = _rgb(image)
    draw = ImageDraw.Draw(page)
    for top, bottom, left, right in boxes:
        draw.rectangle([left - 2, top - 2, max(left, right) + 1, max(top, bottom) + 1], outline=BOX, width=2)
    heights = [b - t for t, b, _, _ in boxes]
    font = _font(int(0.6 * np.median(heights)) if heights else 18)
    parts = [_band([(title, (255, 255, 255))], font, page.width, TITLE_BAND)] if title else []
    cursor = 0
    order = sorted(range(len(boxes)), key=lambda i: boxes[i][1])  # bands go in where each line ends
    for i in order:
        cut = int(np.clip(boxes[i][1] + 3, cursor, page.height))  # just below the box outline
        parts.append(page.crop((0, cursor, page.width, cut)))
        parts.append(_band([(_label(texts[i], None if confidences is None else confidences[i]), TEXT)], font,
                           page.width))
        cursor = cut
    parts.append(page.crop((0, cursor, page.width, page.height)))
    return _stack([p for p in parts if p.height > 0])


def lines_overlay_png(lines: list[np.ndarray], texts: list[str], confidences: list[float] | None = None,
                      references: list[str] | None = None, title: str | None = None) -> bytes:
    """Line images stacked top to bottom, each followed by its recognised text (and the reference in grey)."""
    if not lines:
        raise DataError("lines_overlay_png needs at least one line image")
    _check(len(lines), texts, confidences, references)
    images = [_rgb(line) for line in lines]
    font = _font(int(0.6 * np.median([im.height for im in images])))
    parts = [_band([(title, (255, 255, 255))], font, max(im.width for im in images), TITLE_BAND)] if title else []
    for i, im in enumerate(images):
        rows = [(_label(texts[i], None if confidences is None else confidences[i]), TEXT)]
        if references is not None:
            rows.append((f"ref: {references[i]}", REFERENCE))
        parts += [im, _band(rows, font, im.width), Image.new("RGB", (1, 6), (255, 255, 255))]
    return _stack(parts)
