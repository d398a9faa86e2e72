"""OCR data: the user's line images with their transcripts, and the prepared folder every stage reads.

**The user's format** (``--data PATH``): line images listed in a TSV or a JSONL file, image
paths relative to the file's folder (they must lie under it, or under a folder in
``SEXTANT_ALLOWED_ROOTS``).

- TSV: ``path<TAB>text`` per line (the text is the rest of the line), or with a header row
  naming the columns, ``image`` (or ``path``), ``text`` and optionally ``writer`` and ``group``.
- JSONL: ``{"image": ..., "text": ..., "writer": ..., "group": ...}`` per line (``writer`` and
  ``group`` optional).

``PATH`` is one such file, or a folder with one per split (``train``, ``valid``, ``test``, each
``.tsv`` or ``.jsonl``). One file is split by a seeded rule (:func:`split_lines`): when a
``writer`` (else ``group``) column is present, whole writers are drawn at random, so no writer
is on two sides; otherwise whole lines are (an image listed twice stays on one side).
``group`` also names the groups evaluation scores separately (default: one group, ``all``).

**A prepared folder** holds ``dataset.json`` (the split files, the split rule, the source)
and one JSONL file per split. A row is an image file with its transcript (``{"image", "text",
"group"}``; rendered images are relative to the folder, the user's absolute) or, for the
rendered training split only, a recipe (``{"text", "font", "group", "seed"}``, or
``"digits": true``) drawn when the trainer asks for it (:mod:`apps.ocr.datasets.rendered`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from apps.ocr.datasets.digits import digit_bank, render_digit_string
from apps.ocr.datasets.fonts import Font
from apps.ocr.datasets.render import render_line
from apps.ocr.images import model_input, pad_images, read_image
from shared.atomic import atomic_write_text
from shared.errors import DataError
from shared.paths import allowed_roots, config_path, confine

if TYPE_CHECKING:
    from apps.ocr.config import DataConfig

SPLITS = ("train", "valid", "test")
USER_SUFFIXES = (".tsv", ".jsonl")
SEEN = "training fonts"  # the rendered set's test group of the training families
LAST_GROUPS = (SEEN, "digits")  # reported after the held-out families
SPEC = "dataset.json"


@dataclass
class LineRow:
    text: str
    image: str | None = None  # absolute path of an image file
    group: str = "all"  # font family, "digits", or the user's group column (scored separately)
    font: str | None = None  # recipe rows: the font file that draws the line
    digits: bool = False
    seed: int = 0
    writer: str | None = None  # the user's writer (else group) column: what a one-file split keeps together

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


# ------------------------------------------------------------------ reading the user's files
def _tsv_header(line: str) -> list[str] | None:
    """The column names if ``line`` is a header (``image``/``path`` first, a ``text`` column)."""
    names = [n.strip().lower() for n in line.split("\t")]
    if names[0] in ("image", "path") and "text" in names:
        unknown = sorted(set(names) - {"image", "path", "text", "writer", "group"})
        if unknown or len(set(names)) != len(names):
            raise DataError(f"TSV header {line.strip()!r}: expected the columns image (or path), text, writer, group")
        return ["image" if n == "path" else n for n in names]
    return None


def _records(path: Path, lines: list[str]):
    """``(line number, record dict)`` for every non-empty line of a TSV or JSONL file."""
    header = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if path.suffix.lower() == ".tsv":
            if header is None and number == 1 and (header := _tsv_header(line)) is not None:
                continue
            if header is None:
                parts = line.split("\t", 1)
                if len(parts) != 2:
                    raise DataError(f"{path}:{number}: expected 'path<TAB>text' (or a header row: image, text, writer)")
                yield number, {"image": parts[0], "text": parts[1]}
                continue
            parts = line.split("\t")
            if len(parts) != len(header):
                raise DataError(f"{path}:{number}: expected {len(header)} tab-separated columns ({', '.join(header)}), "
                                f"got {len(parts)}")
            yield number, dict(zip(header, parts))
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{number}: bad JSON ({err.msg})") from None
        if isinstance(record, dict) and "image" not in record and "path" in record:
            record["image"] = record.pop("path")
        yield number, record


def read_rows(path: str | Path, roots: list[Path] | None = None) -> list[LineRow]:
    """Rows of a JSONL or TSV line file; image paths are resolved against its folder and must lie
    under it (or a folder in ``SEXTANT_ALLOWED_ROOTS``, or ``roots`` when given)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    if path.suffix.lower() not in USER_SUFFIXES:
        raise DataError(f"{path.name}: expected a .tsv (path<TAB>text) or .jsonl ({{\"image\", \"text\"}}) file")
    roots = roots if roots is not None else allowed_roots(path.parent)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    rows = []
    for number, record in _records(path, lines):
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise DataError(f"{path}:{number}: each row needs a text")
        image = record.get("image")
        if image is not None and not isinstance(image, str):
            raise DataError(f"{path}:{number}: image must be a path")
        if image:
            image = str(confine(image, path.parent, f"{path}:{number}", roots, "the split file's folder").resolve())
        writer = record["writer"] if "writer" in record else record.get("group")
        rows.append(LineRow(text=record["text"], image=image or None,
                            group=str(record.get("group", record.get("family", "all"))), font=record.get("font"),
                            digits=bool(record.get("digits", False)), seed=int(record.get("seed", 0)),
                            writer=None if writer in (None, "") else str(writer)))
    return rows


def user_files(path: Path) -> dict[str, str]:
    """``--data PATH`` as ``data.lines``: ``{"all": file}`` for one file, ``{train, valid, test}`` for a folder."""
    if path.is_file():
        if path.suffix.lower() not in USER_SUFFIXES:
            raise DataError(f"{path.name}: expected a .tsv (path<TAB>text) or .jsonl ({{\"image\", \"text\"}}) file")
        return {"all": str(path)}
    if not path.is_dir():
        raise DataError(f"file not found: {path}")
    found: dict[str, str] = {}
    for split in SPLITS:
        files = [path / f"{split}{suffix}" for suffix in USER_SUFFIXES if (path / f"{split}{suffix}").is_file()]
        if len(files) > 1:
            raise DataError(f"{path}: both {files[0].name} and {files[1].name}; keep one per split")
        if files:
            found[split] = str(files[0])
    if set(found) != set(SPLITS):
        missing = [s for s in SPLITS if s not in found]
        raise DataError(f"{path}: no {' or '.join(f'{s}.tsv/.jsonl' for s in missing)}; a folder needs train, valid "
                        "and test files (or pass one file, split for you)")
    return found


def split_lines(rows: list[LineRow], valid_fraction: float, test_fraction: float, seed: int,
                name: str = "the file") -> tuple[dict[str, list[LineRow]], str]:
    """Split one file's rows: whole writers (or whole lines when no row names one) in a seeded random
    order go to test until it holds ``test_fraction`` of the lines, then to validation until it holds
    ``valid_fraction``; the rest train. Returns the splits and the rule in one sentence."""
    by_writer = any(r.writer for r in rows)
    unit = "writers" if by_writer else "lines"

    def key(row: LineRow) -> str:
        return f"w:{row.writer}" if by_writer and row.writer else f"i:{row.image or row.text}"

    counts = Counter(key(r) for r in rows)
    keys = sorted(counts)
    if len(keys) < 3:
        raise DataError(f"{name}: {len(keys)} {unit}; a split into train, valid and test needs at least 3")
    order = iter(keys[i] for i in np.random.default_rng(seed).permutation(len(keys)))
    side: dict[str, str] = {}
    for split, fraction in (("test", test_fraction), ("valid", valid_fraction)):
        taken = 0
        while taken < max(1, round(fraction * len(rows))):
            k = next(order, None)
            if k is None:
                break
            side[k] = split
            taken += counts[k]
    splits = {s: [r for r in rows if side.get(key(r), "train") == s] for s in SPLITS}
    if not splits["train"]:
        raise DataError(f"{name}: no {unit} left for training after the test and validation split "
                        "(lower data.test_fraction / data.valid_fraction, or add data)")
    if by_writer:
        rule = (f"{name} split by writer (the writer/group column), so no writer is on two sides: writers in a "
                f"seeded random order (data.split_seed={seed}) fill test to at least {test_fraction:.0%} of the lines, "
                f"then validation to {valid_fraction:.0%}; the rest train")
    else:
        rule = (f"{name} split by line (an image listed twice stays on one side): a seeded random "
                f"{test_fraction:.0%} of the lines for test and {valid_fraction:.0%} for validation "
                f"(data.split_seed={seed}); the rest train")
    return splits, rule


# ------------------------------------------------------------------ the prepared folder
def row_record(row: LineRow, folder: Path) -> dict:
    """A row as written in a prepared split file (images under ``folder`` relative to it)."""
    record: dict = {"text": row.text, "group": row.group}
    if row.image is not None:
        image, base = Path(row.image).resolve(), folder.resolve()
        record["image"] = image.relative_to(base).as_posix() if image.is_relative_to(base) else str(image)
        record["writer"] = row.writer  # null included: a prepared row's group is not its writer
    else:
        record.update({"font": row.font, "digits": row.digits, "seed": row.seed})
    return record


def write_rows(path: Path, rows: list[LineRow]) -> str:
    """Write a split file; returns its name (relative to the prepared folder)."""
    atomic_write_text(path, "".join(json.dumps(row_record(r, path.parent)) + "\n" for r in rows))
    return path.name


def write_spec(out: Path, dataset: str, spec: dict) -> Path:
    """Write ``dataset.json``, last, so a folder without it is never taken for prepared; returns ``out``."""
    atomic_write_text(Path(out) / SPEC, json.dumps({"dataset": dataset, **spec}, indent=2) + "\n")
    return Path(out)


def prepare_lines(cfg: DataConfig, out: Path) -> dict:
    """Read the user's files, split one file by the seeded rule, and write the split files into ``out``;
    returns the ``dataset.json`` fields."""
    if not cfg.lines:
        raise DataError("data.dataset=lines needs your line files: --data FILE|FOLDER (or data.lines.all=FILE, "
                        "or data.lines.train/valid/test)")
    sources = {k: config_path(v, f"data.lines.{k}") for k, v in cfg.lines.items()}
    if "all" in sources:
        splits, rule = split_lines(read_rows(sources["all"]), cfg.valid_fraction, cfg.test_fraction, cfg.split_seed,
                                   sources["all"].name)
    else:
        splits = {s: read_rows(sources[s]) for s in SPLITS}
        rule = f"your test file ({sources['test'].name}); validation: your valid file ({sources['valid'].name})"
    roots = sorted({str(root) for p in sources.values() for root in allowed_roots(p.parent)})
    out.mkdir(parents=True, exist_ok=True)
    return {"splits": {s: write_rows(out / f"{s}.jsonl", splits[s]) for s in SPLITS},
            "files": {k: str(p) for k, p in sources.items()}, "image_roots": roots, "split_rule": rule,
            "source": "your line images"}


def read_spec(data_dir: str | Path) -> dict:
    path = Path(data_dir) / SPEC
    if not path.is_file():
        raise DataError(f"no prepared dataset in {data_dir}: run prepare first")
    return json.loads(path.read_text())


def load_split(data_dir: str | Path, split: str) -> list[LineRow]:
    spec = read_spec(data_dir)
    splits = spec["splits"]
    if split not in splits:
        raise DataError(f"{data_dir} has no {split} split (has {', '.join(splits)})")
    roots = allowed_roots(data_dir) + [Path(r) for r in spec.get("image_roots", [])]
    return read_rows(Path(data_dir) / splits[split], roots)


def validate_data(data_dir: str | Path) -> dict:
    """Counts per split and group; refuses empty splits, missing images, empty text, an image in two
    splits, a held-out font in training and (rendered set) a validation or test sentence that is also
    trained on. For the user's data it also counts writers on two sides (none after a one-file split)."""
    report: dict = {"lines": {}, "groups": {}}
    images: dict[str, str] = {}
    texts: dict[str, set[str]] = {}
    writers: dict[str, set[str]] = {}
    spec = read_spec(data_dir)
    held_out = set(spec.get("held_out_families", []))
    for split in SPLITS:
        rows = load_split(data_dir, split)
        if not rows:
            raise DataError(f"the {split} split has no lines")
        for row in rows:
            if not row.text.strip():
                raise DataError(f"{split}: a line has empty text ({row.image or row.font})")
            if row.image is not None:
                if not Path(row.image).is_file():
                    raise DataError(f"{split}: {row.image} does not exist")
                if images.setdefault(row.image, split) != split:
                    raise DataError(f"{row.image} is in both {images[row.image]} and {split}")
            if split != "test" and row.group in held_out:
                raise DataError(f"{split}: the held-out font family {row.group} is used")
        texts[split] = {r.text.lower() for r in rows if r.group != "digits"}
        writers[split] = {r.writer for r in rows if r.writer}
        report["lines"][split] = len(rows)
        report["groups"][split] = sorted({r.group for r in rows})
    if spec["dataset"] == "rendered":
        for split in ("valid", "test"):
            if shared := texts[split] & texts["train"]:
                raise DataError(f"{len(shared)} {split} sentences are also trained on, e.g. {next(iter(shared))!r}")
    elif any(writers.values()):
        report["writers"] = {s: len(w) for s, w in writers.items()}
        report["writers_on_two_sides"] = len((writers["valid"] | writers["test"]) & writers["train"])
    report["split_rule"] = spec.get("split_rule", "")
    return report


def lm_texts(data_dir: str | Path, train: list[LineRow]) -> list[str]:
    """The character LM's text: the rendered set's ``lm.txt`` (training sentences), else the training lines."""
    path = Path(data_dir) / "lm.txt"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [x for x in lines if x.strip()] or [r.text for r in train]


def test_groups(data_dir: str | Path, limit: int = 0) -> dict[str, list[LineRow]]:
    """Test lines per group (the first ``limit`` of each when > 0): held-out families first, then the
    training fonts, then digit strings."""
    groups: dict[str, list[LineRow]] = {}
    for row in load_split(data_dir, "test"):
        groups.setdefault(row.group, []).append(row)
    if limit:
        groups = {k: v[:limit] for k, v in groups.items()}
    tail = [g for g in LAST_GROUPS if g in groups]
    return {g: groups[g] for g in [*(g for g in groups if g not in tail), *tail]}


# ------------------------------------------------------------------ model input
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
