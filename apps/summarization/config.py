"""The summarization app's typed config, loaded from ``configs/<name>.yaml``.

Sections: ``data`` (which pairs, how they are split, the pretraining text), ``model``
(vocabulary size and architecture), ``train`` (fine-tuning, with gap-sentence
pretraining under ``train.pretrain``), ``decode`` (beam search), ``peers`` and
``evaluate`` (how much of each test set is scored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from apps.summarization.model import SummarizerModelConfig
from shared.config import check_names, config_file, load_config
from shared.training import TrainConfig

CONFIG_DIR = Path(__file__).parent / "configs"
DATASETS = ("debian", "pairs")
SPLITS = ("train", "valid", "test")
TRANSFER_SETS = ("abstracts", "wikipedia")
PEERS = ("lead-1", "lead-3", "lexrank", "textrank", "lsa")
FINETUNE_MONITORS = ("val_rougeL", "val_rouge1")  # what fine-tuning's validation reports


@dataclass
class DebianSetConfig:
    """The given Debian description -> synopsis pairs, split on package groups."""

    valid: int = 500
    test: int = 1000
    max_rows: int = 0  # read only the first N pairs (0 = all 60,465)


@dataclass
class SplitConfig:
    """How one file of your pairs is split (``data.pairs`` without ``valid`` or ``test``): shares of the
    documents, by a seeded hash of the normalized document text (identical documents stay together)."""

    valid: float = 0.1
    test: float = 0.1

    def __post_init__(self) -> None:
        if not (0 < self.valid < 1 and 0 < self.test < 1 and self.valid + self.test < 1):
            raise ValueError("split.valid and split.test are shares between 0 and 1 that leave some for training")


@dataclass
class PretrainTextConfig:
    """Unlabelled text for gap-sentence pretraining: the training documents (Debian descriptions or
    yours) and gensim's Lee background corpus, cut into passages. Test documents are never pretrained on."""

    lee_background: bool = True
    passage_words: int = 200  # passages of whole sentences up to this many words
    max_passages: int = 0  # 0 = all


@dataclass
class DataConfig:
    """Which pairs: ``dataset: debian`` (given) or ``pairs`` (yours: JSONL files named in ``pairs``,
    ``{train, valid, test}``; splits not given are cut from ``train`` by ``split``)."""

    dataset: str = "debian"
    pairs: dict[str, str] = field(default_factory=dict)
    split: SplitConfig = field(default_factory=SplitConfig)
    seed: int = 0  # the Debian group split, the split of your file, the pretraining passage sample
    debian: DebianSetConfig = field(default_factory=DebianSetConfig)
    pretrain_text: PretrainTextConfig = field(default_factory=PretrainTextConfig)
    # Test-only transfer sets; None: both with the Debian pairs, none with yours (list them to score them too).
    transfer_sets: list[str] | None = None
    cache_dir: str = "data/cache/summarization"

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if unknown := sorted(set(self.pairs) - set(SPLITS)):
            raise ValueError(f"pairs: unknown split(s) {unknown}; known: {list(SPLITS)}")
        if unknown := sorted(set(self.transfer_sets or ()) - set(TRANSFER_SETS)):
            raise ValueError(f"transfer_sets: unknown {unknown}; available: {list(TRANSFER_SETS)}")

    def transfer(self) -> list[str]:
        """The transfer sets to prepare and score (``transfer_sets``, or its default for the dataset)."""
        if self.transfer_sets is not None:
            return list(self.transfer_sets)
        return list(TRANSFER_SETS) if self.dataset == "debian" else []


@dataclass
class DecodeConfig:
    """Beam search settings; lengths count summary tokens (BPE pieces, about 1.3 per word)."""

    num_beams: int = 4
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 3
    min_length: int = 3
    max_length: int = 40
    batch_size: int = 16

    def __post_init__(self) -> None:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} is above max_length {self.max_length}")
        if self.num_beams < 1 or self.max_length < 1 or self.batch_size < 1:
            raise ValueError("num_beams, max_length and batch_size must be positive")

    def generation(self):
        """The core's :class:`~shared.models.generation.GenerationConfig` for these settings."""
        from shared.models.generation import GenerationConfig

        return GenerationConfig(max_new_tokens=self.max_length, min_new_tokens=self.min_length,
                                num_beams=self.num_beams, length_penalty=self.length_penalty,
                                no_repeat_ngram_size=self.no_repeat_ngram_size, early_stopping=True)


@dataclass
class PretrainConfig(TrainConfig):
    """Gap-sentence pretraining (``train.pretrain``); the best checkpoint has the lowest held-out loss."""

    max_steps: int = 2000
    lr: float = 5e-4
    eval_every: int = 500
    monitor: str = "val_loss"
    monitor_mode: Literal["min", "max"] = "min"
    gap_ratio: float = 0.3  # share of a passage's sentences masked
    random_gaps: float = 0.2  # share of passages whose masked sentences are random, not the central ones
    target_tokens: int = 128
    valid_limit: int = 200  # held-out gap-sentence examples scored at each evaluation

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.monitor, self.monitor_mode) != ("val_loss", "min"):
            raise ValueError("pretraining keeps the checkpoint with the lowest val_loss (monitor: val_loss, min)")


@dataclass
class SummarizationTrainConfig(TrainConfig):
    """Fine-tuning on pairs (``train``); the best checkpoint has the highest validation ROUGE-L."""

    max_steps: int = 4000
    lr: float = 3e-4
    eval_every: int = 500
    monitor: str = "val_rougeL"
    monitor_mode: Literal["min", "max"] = "max"
    target_tokens: int = 64
    valid_limit: int = 200  # validation documents summarized at each evaluation
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.monitor not in FINETUNE_MONITORS or self.monitor_mode != "max":
            raise ValueError(f"fine-tuning keeps the checkpoint with the highest {' or '.join(FINETUNE_MONITORS)} "
                             f"(monitor_mode: max), not {self.monitor} ({self.monitor_mode})")


@dataclass
class EvaluateConfig:
    """How much of each test set is scored, and how long Wikipedia leads are decoded."""

    test_limit: int = 0  # score only the first N documents of each test set (0 = all)
    long_limit: int = 0  # and only the first N long Wikipedia articles (0 = as test_limit)
    long_decode: DecodeConfig = field(default_factory=lambda: DecodeConfig(max_length=96, min_length=20,
                                                                           batch_size=4))


@dataclass
class SummarizationConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: SummarizerModelConfig = field(default_factory=SummarizerModelConfig)
    train: SummarizationTrainConfig = field(default_factory=SummarizationTrainConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    peers: list[str] = field(default_factory=lambda: list(PEERS))
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)

    def __post_init__(self) -> None:
        check_names(self.peers, PEERS, "peer")


def load_summarization_config(name: str = "default", overrides: list[str] | None = None) -> SummarizationConfig:
    """``default``, ``demo`` or ``tiny`` (shipped configs), or a path to a YAML file."""
    return load_config(SummarizationConfig, config_file(name, CONFIG_DIR), overrides)
