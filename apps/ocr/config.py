"""The OCR app's typed config: which lines, how to train, how to read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from apps.ocr.read import ReadConfig
from apps.ocr.train import OcrTrainConfig
from shared.config import load_config
from shared.errors import ConfigError

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass
class RenderedSetConfig:
    """Lines drawn in Debian's handwriting fonts from real package synopses, plus real handwritten
    digit strings. Families in ``held_out`` are never drawn for training or validation; test sentences
    and test digit images are never trained on."""

    train_lines: int = 200_000  # recipes, drawn when the trainer asks for them
    valid_lines: int = 300
    test_lines_per_font: int = 200  # per held-out family, and for the training fonts together
    test_digit_strings: int = 200
    digit_fraction: float = 0.15  # of training lines
    train_max_chars: int = 0  # > 0: training lines are cut to their first words within this length (short
    # lines train faster; validation and test lines are always whole)
    held_out: list[str] = field(default_factory=lambda: ["ecolier-court", "femkeklaver", "dkg-handwriting"])
    valid_sentences: int = 300
    test_sentences: int = 1000
    max_rows: int = 0  # read only the first N Debian descriptions (0 = all)
    seed: int = 0


@dataclass
class OcrConfig:
    # rendered (fonts and digits, generated) or lines (your own images with transcripts)
    dataset: str = "rendered"
    cache_dir: str = "data/cache/ocr"
    rendered: RenderedSetConfig = field(default_factory=RenderedSetConfig)
    lines: dict[str, str] = field(default_factory=dict)  # dataset=lines: {train, valid, test} TSV or JSONL paths
    fit: OcrTrainConfig = field(default_factory=OcrTrainConfig)
    read: ReadConfig = field(default_factory=ReadConfig)
    peers: list[str] = field(default_factory=lambda: ["tesseract"])
    test_limit: int = 0  # score only the first N test lines per group (0 = all)


def load_ocr_config(name: str = "default", overrides: list[str] | None = None) -> OcrConfig:
    path = Path(name) if Path(name).suffix else CONFIG_DIR / f"{name}.yaml"
    cfg = load_config(OcrConfig, path, overrides)
    if cfg.dataset not in ("rendered", "lines"):
        raise ConfigError(f"dataset must be rendered or lines, got {cfg.dataset!r}")
    return cfg
