"""OCR datasets: the rendered set (fonts, digit strings) and a user's own line images.

A prepared dataset is a folder with ``dataset.json`` and one JSONL file per split.
A row is either an image file with its transcript (``{"image", "text", "group"}``,
the image path relative to the JSONL file's folder) or, for the rendered training
split only, a recipe (``{"text", "font", "family"}`` or ``{"text", "digits": true,
"font"}`` with a ``seed``) drawn when the trainer asks for it, so a long run sees
fresh lines without storing them. Validation and test lines are always image files,
the very images every peer reads too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from apps.ocr.digits import digit_bank, random_digit_string, render_digit_string
from apps.ocr.fonts import FAMILIES, Font, can_draw, fonts_of, written_text
from apps.ocr.images import model_input, pad_images, read_image
from apps.ocr.render import render_line
from shared.errors import DataError
from shared.paths import allowed_roots, confine


@dataclass
class LineRow:
    text: str
    image: str | None = None  # absolute path of an image file
    group: str = "all"  # font family, "digits", or the user's group column
    font: str | None = None  # recipe rows: the font file that draws the line
    digits: bool = False
    seed: int = 0

    def load(self) -> np.ndarray:
        """The line image: read from its file, or drawn from its recipe (deterministic for its seed)."""
        if self.image is not None:
            return read_image(self.image)
        if self.font is None:
            raise DataError(f"row {self.text[:40]!r} has neither an image nor a font to draw it")
        rng = np.random.default_rng(self.seed)
        font = Font(self.group if not self.digits else "digits", self.font)
        if self.digits:
            return render_digit_string(self.text, digit_bank("train"), font, rng)
        return render_line(self.text, font, rng)


def read_rows(path: str | Path) -> list[LineRow]:
    """Rows of a JSONL split file or a ``image<TAB>text`` TSV; image paths are resolved against its
    folder and must lie under it (or a folder in ``SEXTANT_ALLOWED_ROOTS``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    roots = allowed_roots(path.parent)
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if path.suffix == ".tsv":
            parts = line.split("\t", 1)
            if len(parts) != 2:
                raise DataError(f"{path}:{number}: expected 'image<TAB>text'")
            record = {"image": parts[0], "text": parts[1]}
        else:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: bad JSON ({err.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise DataError(f"{path}:{number}: each row needs a text")
        image = record.get("image")
        if image is not None and not isinstance(image, str):
            raise DataError(f"{path}:{number}: image must be a path")
        if image:
            image = str(confine(image, path.parent, f"{path}:{number}", roots, "the split file's folder").resolve())
        rows.append(LineRow(text=record["text"], image=image or None,
                            group=str(record.get("group", record.get("family", "all"))), font=record.get("font"),
                            digits=bool(record.get("digits", False)), seed=int(record.get("seed", 0))))
    return rows


def row_record(row: LineRow, relative_to: Path) -> dict:
    record: dict = {"text": row.text, "group": row.group}
    if row.image is not None:
        record["image"] = Path(row.image).relative_to(relative_to).as_posix()
    else:
        record.update({"font": row.font, "digits": row.digits, "seed": row.seed})
    return record


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


class LineDataset(Dataset):
    """Model-ready ``(image [H, W], target ids)`` pairs; recipe rows are drawn on demand."""

    def __init__(self, rows: list[LineRow], encode, height: int, max_width: int):
        self.rows, self.encode, self.height, self.max_width = rows, encode, height, max_width

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, list[int]]:
        row = self.rows[i]
        return model_input(row.load(), self.height, self.max_width), self.encode(row.text)


def collate_lines(items: list[tuple[torch.Tensor, list[int]]]) -> dict[str, torch.Tensor]:
    images, widths = pad_images([im for im, _ in items])
    lengths = torch.tensor([len(t) for _, t in items], dtype=torch.long)
    targets = torch.zeros(len(items), max(1, int(lengths.max())), dtype=torch.long)
    for i, (_, ids) in enumerate(items):
        targets[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return {"images": images, "widths": widths, "targets": targets, "target_lengths": lengths}
