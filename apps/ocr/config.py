"""The OCR app's typed config, loaded from ``configs/<name>.yaml``: which lines (``data``), the line
model (``model``), how to train it (``train``), how to decode (``decode``), what to compare with
(``peers``) and how much of the test split to score (``evaluate``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from apps.ocr.model import OcrModelConfig
from shared.config import check_names, config_file, load_config
from shared.training import TrainConfig

CONFIG_DIR = Path(__file__).parent / "configs"
PEERS = ("tesseract",)


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
class DataConfig:
    """``rendered`` (fonts and digit strings, generated) or ``lines``: the user's line images with their
    transcripts. ``lines`` names a TSV (``path<TAB>text``) or JSONL (``{"image", "text"}``) file per
    split (``train``, ``valid``, ``test``), or one file under ``all``, split by a seeded rule: whole
    writers (the ``writer`` or ``group`` column, when there is one) or else whole lines are drawn at
    random until ``test_fraction`` of the lines are test and ``valid_fraction`` validation."""

    dataset: Literal["rendered", "lines"] = "rendered"
    cache_dir: str = "data/cache/ocr"
    rendered: RenderedSetConfig = field(default_factory=RenderedSetConfig)
    lines: dict[str, str] = field(default_factory=dict)
    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    split_seed: int = 0

    def __post_init__(self) -> None:
        if not (0 < self.valid_fraction < 1 and 0 < self.test_fraction < 1
                and self.valid_fraction + self.test_fraction < 1):
            raise ValueError("valid_fraction and test_fraction must be in (0, 1) and leave lines for training")
        if self.lines and set(self.lines) not in ({"all"}, {"train", "valid", "test"}):
            raise ValueError(f"lines names either train, valid and test files or one file under all, got {sorted(self.lines)}")


@dataclass
class OcrTrainConfig(TrainConfig):
    """The shared training settings plus the OCR line model's own; the checkpoint kept is the one with
    the lowest validation CER."""

    monitor: str = "val_cer"
    ctc_weight: float = 1.0  # < 1 with model.decoder_layers > 0: joint CTC/attention training
    valid_limit: int = 300  # validation lines read at each evaluation (greedy CER picks the checkpoint)
    lm_order: int = 6  # the character n-gram LM written next to the model (lm.json); 0 = none


@dataclass
class DecodeConfig:
    """How line images are read: greedy CTC, prefix beam search (optionally with the model folder's
    character LM), or the attention decoder's beam search (models with ``decoder_layers > 0``)."""

    method: Literal["greedy", "beam", "attention"] = "beam"
    beam_size: int = 8
    use_lm: bool = True  # shallow fusion with the model folder's lm.json, when there is one
    lm_weight: float = 0.3
    word_bonus: float = 0.5
    batch_pixels: int = 2_000_000  # model-input pixels per forward pass


@dataclass
class EvaluateConfig:
    test_limit: int = 0  # score only the first N test lines of each group (0 = all)


@dataclass
class OcrConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: OcrModelConfig = field(default_factory=OcrModelConfig)
    train: OcrTrainConfig = field(default_factory=OcrTrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    peers: list[str] = field(default_factory=lambda: list(PEERS))
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)

    def __post_init__(self) -> None:
        check_names(self.peers, PEERS, "peer")


def load_ocr_config(name: str = "default", overrides: list[str] | None = None) -> OcrConfig:
    """``default``, ``demo`` or ``tiny`` (shipped configs), or a path to a YAML file."""
    return load_config(OcrConfig, config_file(name, CONFIG_DIR), overrides)
