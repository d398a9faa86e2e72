"""The summarization app's typed config: which pairs, which model, how to train and decode."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from apps.summarization.summarize import DecodeConfig
from apps.summarization.train import SummarizerTrainConfig
from shared.config import load_config
from shared.errors import ConfigError

CONFIG_DIR = Path(__file__).parent / "configs"
DATASETS = ("debian", "pairs")


@dataclass
class DebianSetConfig:
    """The given Debian description -> synopsis pairs, split on package groups."""

    valid: int = 500
    test: int = 1000
    max_rows: int = 0  # read only the first N pairs (0 = all 60,465)
    seed: int = 0


@dataclass
class PretrainTextConfig:
    """Unlabelled text for gap-sentence pretraining: training-split Debian descriptions and gensim's
    Lee background corpus, cut into passages. Test documents are never pretrained on."""

    lee_background: bool = True
    passage_words: int = 200  # passages of whole sentences up to this many words
    max_passages: int = 0  # 0 = all


@dataclass
class SummarizationConfig:
    dataset: str = "debian"  # debian (given) or pairs (yours: JSONL files named in `pairs`)
    cache_dir: str = "data/cache/summarization"
    debian: DebianSetConfig = field(default_factory=DebianSetConfig)
    pairs: dict[str, str] = field(default_factory=dict)  # dataset=pairs: {train, valid, test} JSONL paths
    pretrain_text: PretrainTextConfig = field(default_factory=PretrainTextConfig)
    vocab_size: int = 8000
    fit: SummarizerTrainConfig = field(default_factory=SummarizerTrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    peers: list[str] = field(default_factory=lambda: ["lead-1", "lead-3", "lexrank", "textrank", "lsa"])
    test_limit: int = 0  # score only the first N documents of each test set (0 = all)
    long_limit: int = 0  # and only the first N long Wikipedia articles (0 = as test_limit)
    transfer_sets: list[str] = field(default_factory=lambda: ["abstracts", "wikipedia"])
    long_decode: DecodeConfig = field(default_factory=lambda: DecodeConfig(max_length=96, min_length=20,
                                                                           batch_size=4))


def load_summarization_config(name: str = "default", overrides: list[str] | None = None) -> SummarizationConfig:
    path = Path(name) if Path(name).suffix else CONFIG_DIR / f"{name}.yaml"
    cfg = load_config(SummarizationConfig, path, overrides)
    if cfg.dataset not in DATASETS:
        raise ConfigError(f"dataset must be one of {', '.join(DATASETS)}, got {cfg.dataset!r}")
    if cfg.dataset == "pairs" and not {"train", "valid", "test"} <= set(cfg.pairs):
        raise ConfigError("dataset=pairs needs pairs.train, pairs.valid and pairs.test JSONL paths")
    return cfg
