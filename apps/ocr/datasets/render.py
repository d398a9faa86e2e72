"""Handwriting-like text lines: a font's glyphs, made irregular the way a hand is.

:func:`render_line` draws ``text`` word by word (uneven word gaps, a wandering
baseline, sometimes a heavier stroke), then :func:`finish` applies what
happens between pen and scanner: slant (shear), a narrower or wider hand
(horizontal stretch), a slight rotation, elastic
distortion (a smoothed random displacement field), ink and paper levels,
paper texture and sensor noise, blur, and a tight crop with a random margin.
Everything is drawn from the ``numpy`` generator passed in, so a seed fixes
the image exactly. Images are ``uint8`` grayscale, dark ink on light paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from apps.ocr.datasets.fonts import Font
from shared.errors import DataError


@dataclass(frozen=True)
class RenderConfig:
    font_size: tuple[int, int] = (30, 40)  # pixels, drawn uniformly
    word_gap: tuple[float, float] = (0.7, 1.6)  # times the font's space width
    baseline_jitter: float = 0.06  # times the font size, per word
    bold_probability: float = 0.25  # stroke widened by one pixel
    slant: tuple[float, float] = (-0.35, 0.25)  # horizontal shear per pixel of height
    rotate_degrees: float = 1.2
    stretch: tuple[float, float] = (0.8, 1.25)  # horizontal scale: narrow and wide hands
    elastic_alpha: tuple[float, float] = (0.0, 2.5)  # displacement, pixels
    elastic_sigma: float = 5.0
    ink: tuple[int, int] = (0, 90)
    paper: tuple[int, int] = (190, 255)
    noise: tuple[float, float] = (0.0, 10.0)  # sensor noise std, grey levels
    blur: tuple[float, float] = (0.0, 1.1)
    margin: tuple[int, int] = (2, 10)


def _font(font: Font, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(font.path, size)
    except OSError as err:
        raise DataError(f"cannot load font {font.path}: {err}") from None


def draw_words(text: str, font: Font, rng: np.random.Generator, cfg: RenderConfig = RenderConfig()) -> np.ndarray:
    """Ink coverage ``[H, W]`` in 0..1 of ``text`` before any distortion."""
    if not text.strip():
        raise DataError("cannot render an empty line")
    size = int(rng.integers(cfg.font_size[0], cfg.font_size[1] + 1))
    face = _font(font, size)
    words = text.split(" ")
    space = max(face.getlength(" "), size * 0.25)
    gaps = [space * rng.uniform(*cfg.word_gap) for _ in words[1:]]
    shifts = rng.normal(0.0, cfg.baseline_jitter * size, len(words))
    stroke = int(rng.random() < cfg.bold_probability)
    width = int(sum(face.getlength(w) for w in words) + sum(gaps) + 4 * size)
    height = int(size * 2.2 + 4 * cfg.baseline_jitter * size)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    x, baseline = size, height * 0.62
    for i, word in enumerate(words):
        if word:
            draw.text((x, baseline + shifts[i]), word, font=face, fill=255, anchor="ls", stroke_width=stroke,
                      stroke_fill=255)
            x += face.getlength(word)
        if i < len(gaps):
            x += gaps[i]
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _elastic(ink: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    """Move every pixel by a smooth random field of at most ``alpha`` pixels (drawn on a grid ``sigma``
    pixels apart and interpolated, which is much cheaper than smoothing full-size noise)."""
    if alpha <= 0:
        return ink
    grid = (max(2, int(ink.shape[0] / sigma) + 2), max(2, int(ink.shape[1] / sigma) + 2))
    fields = []
    for _ in range(2):
        coarse = ndimage.gaussian_filter(rng.uniform(-1, 1, grid), 1.0)
        fine = np.asarray(Image.fromarray(coarse.astype(np.float32)).resize(ink.shape[::-1], Image.Resampling.BILINEAR))
        fields.append(fine * alpha / max(np.abs(fine).max(), 1e-6))
    rows, cols = np.meshgrid(np.arange(ink.shape[0]), np.arange(ink.shape[1]), indexing="ij")
    return ndimage.map_coordinates(ink, [rows + fields[0], cols + fields[1]], order=1, mode="constant")


def _slant_and_rotate(ink: np.ndarray, shear: float, degrees: float, stretch: float = 1.0) -> np.ndarray:
    """Slant (rows above the middle move right for a positive shear, like italics), a horizontal stretch,
    then a small rotation."""
    h, w = ink.shape
    pad = int(abs(shear) * h) + 1
    image = Image.fromarray((ink * 255).astype(np.uint8)).crop((-pad, 0, w + pad, h))
    image = image.transform(image.size, Image.Transform.AFFINE, (1, shear, -shear * h / 2, 0, 1, 0),
                            resample=Image.Resampling.BILINEAR)
    if stretch != 1.0:
        image = image.resize((max(1, round(image.width * stretch)), image.height), Image.Resampling.BILINEAR)
    image = image.rotate(degrees, resample=Image.Resampling.BILINEAR, expand=True)
    return np.asarray(image, dtype=np.float32) / 255.0


def _crop(ink: np.ndarray, rng: np.random.Generator, margin: tuple[int, int]) -> np.ndarray:
    rows, cols = np.nonzero(ink > 0.15)
    if rows.size == 0:
        raise DataError("the font drew nothing for this line")
    m = rng.integers(margin[0], margin[1] + 1, 4)
    top, bottom = max(rows.min() - m[0], 0), min(rows.max() + 1 + m[1], ink.shape[0])
    left, right = max(cols.min() - m[2], 0), min(cols.max() + 1 + m[3], ink.shape[1])
    return ink[top:bottom, left:right]


def _smooth_noise(shape: tuple[int, ...], rng: np.random.Generator, cell: int = 6) -> np.ndarray:
    """Unit-scale blotchy paper texture, interpolated from noise on a coarse grid."""
    coarse = rng.normal(0, 1, (shape[0] // cell + 2, shape[1] // cell + 2)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse).resize(shape[::-1], Image.Resampling.BILINEAR))


def finish(ink: np.ndarray, rng: np.random.Generator, cfg: RenderConfig = RenderConfig()) -> np.ndarray:
    """Pen-and-scanner effects on an ink coverage map; returns the ``uint8`` line image."""
    ink = _crop(ink, rng, (8, 8))  # work on the written part only
    ink = _slant_and_rotate(ink, float(rng.uniform(*cfg.slant)),
                            float(rng.uniform(-cfg.rotate_degrees, cfg.rotate_degrees)), float(rng.uniform(*cfg.stretch)))
    ink = _elastic(ink, rng, float(rng.uniform(*cfg.elastic_alpha)), cfg.elastic_sigma)
    ink = np.clip(_crop(ink, rng, cfg.margin), 0.0, 1.0)
    ink_level, paper_level = rng.uniform(*cfg.ink), rng.uniform(*cfg.paper)
    texture = rng.uniform(0, 8) * _smooth_noise(ink.shape, rng)
    image = paper_level + texture + (ink_level - paper_level) * ink
    blur = rng.uniform(*cfg.blur)
    if blur > 0.05:
        image = ndimage.gaussian_filter(image, blur)
    image = image + rng.normal(0, rng.uniform(*cfg.noise), image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def render_line(text: str, font: Font, rng: np.random.Generator, cfg: RenderConfig = RenderConfig()) -> np.ndarray:
    """A handwriting-like ``uint8`` image of ``text`` in ``font``; deterministic for the generator's state."""
    return finish(draw_words(text, font, rng, cfg), rng, cfg)
