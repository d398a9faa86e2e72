"""Pretraining (gap sentences) and fine-tuning of the summarizer on the shared training loop.

Pretraining picks its checkpoint by loss on gap-sentence examples from held-out
documents; fine-tuning starts from the pretrained weights (or from scratch) and
picks its checkpoint by ROUGE-L of greedy summaries on validation pairs only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from apps.summarization.gap_sentences import gap_sentence_example
from apps.summarization.metrics import rouge
from apps.summarization.model import PointerGeneratorSummarizer, SummarizerModelConfig
from apps.summarization.summarize import DecodeConfig, Summarizer, normalize
from shared.config import config_to_dict
from shared.errors import DataError
from shared.model_folder import load_model
from shared.tokenizers import Tokenizer, pad_sequences
from shared.training import TrainConfig, Trainer, TrainResult, length_bucketed_batches, seed_everything


@dataclass
class SummarizerTrainConfig:
    model: SummarizerModelConfig = field(default_factory=SummarizerModelConfig)
    pretrain: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=2000, lr=5e-4, eval_every=500))
    finetune: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=4000, lr=3e-4, eval_every=500))
    gap_ratio: float = 0.3  # share of a passage's sentences masked in pretraining
    random_gaps: float = 0.2  # share of passages whose masked sentences are random, not the central ones
    pretrain_target_tokens: int = 128
    target_tokens: int = 64
    valid_limit: int = 200  # validation documents summarized at each fine-tuning evaluation


class TextPairs(Dataset):
    """(source, target) text pairs, tokenized when read."""

    def __init__(self, pairs: list[tuple[str, str]], tokenizer: Tokenizer, window: int, target_tokens: int):
        self.pairs, self.tokenizer, self.window, self.target_tokens = pairs, tokenizer, window, target_tokens

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[list[int], list[int]]:
        source, target = self.pairs[i]
        return (self.tokenizer.encode(normalize(source), add_eos=True)[: self.window],
                self.tokenizer.encode(normalize(target), add_eos=True)[: self.target_tokens])


def gap_sentence_pairs(passages: list[list[str]], ratio: float, random_share: float, seed: int) -> list[tuple[str, str]]:
    """One gap-sentence example per passage of at least two sentences (seeded)."""
    rng = np.random.default_rng(seed)
    return [ex for p in passages if (ex := gap_sentence_example(p, ratio, rng, random_share)) is not None]


def collate_pairs(items: list[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
    """``input_ids`` ``[B, 1, W]`` (one chunk: training sources fit the window) and ``labels`` ``[B, T]``."""
    return {"input_ids": pad_sequences([s for s, _ in items])[:, None, :], "labels": pad_sequences([t for _, t in items])}


def _bucketed(lengths: list[int], num_items: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    return length_bucketed_batches(lengths, batch_size, seed, epoch)


def _loss(model: nn.Module, batch: dict) -> torch.Tensor:
    return model.loss(batch)


def _trainer(model: PointerGeneratorSummarizer, cfg: TrainConfig, out_dir: Path, data: TextPairs, tokenizer: Tokenizer,
             eval_fn, metadata: dict) -> Trainer:
    lengths = [len(s.split()) for s, _ in data.pairs]
    return Trainer(model, cfg, out_dir, _loss, "summarizer", config_to_dict(model.cfg), eval_fn=eval_fn,
                   collate_fn=collate_pairs, tokenizer=tokenizer, metadata=metadata, batches_fn=partial(_bucketed, lengths))


def new_model(cfg: SummarizerTrainConfig, tokenizer: Tokenizer) -> PointerGeneratorSummarizer:
    seed_everything(cfg.finetune.seed)
    return PointerGeneratorSummarizer(replace(cfg.model, vocab_size=tokenizer.vocab_size))


def pretrain(cfg: SummarizerTrainConfig, tokenizer: Tokenizer, passages: list[list[str]],
             valid_passages: list[list[str]], out_dir: str | Path, resume: bool = False) -> TrainResult:
    """Gap-sentence pretraining; the best checkpoint (lowest held-out loss) is ``out_dir/best``."""
    train = TextPairs(gap_sentence_pairs(passages, cfg.gap_ratio, cfg.random_gaps, cfg.pretrain.seed), tokenizer,
                      cfg.model.window, cfg.pretrain_target_tokens)
    valid = TextPairs(gap_sentence_pairs(valid_passages, cfg.gap_ratio, 0.0, cfg.pretrain.seed + 1)[: cfg.valid_limit],
                      tokenizer, cfg.model.window, cfg.pretrain_target_tokens)
    if not len(train) or not len(valid):
        raise DataError("pretraining needs passages of at least two sentences, for training and validation")
    model = new_model(cfg, tokenizer)
    batches = [collate_pairs([valid[i] for i in range(s, min(s + 32, len(valid)))]) for s in range(0, len(valid), 32)]

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"val_loss": float(np.mean([m.loss(b).item() for b in batches]))}

    train_cfg = replace(cfg.pretrain, monitor="val_loss", monitor_mode="min")
    return _trainer(model, train_cfg, Path(out_dir), train, tokenizer, eval_fn,
                    {"task": "summarization-pretrain"}).fit(train, resume=resume)


def finetune(cfg: SummarizerTrainConfig, tokenizer: Tokenizer, train_pairs: list[tuple[str, str]],
             valid_pairs: list[tuple[str, str]], out_dir: str | Path, init_dir: str | Path | None = None,
             resume: bool = False, metadata: dict | None = None) -> TrainResult:
    """Fine-tune on (document, summary) pairs from ``init_dir`` weights (or from scratch); the best
    checkpoint (highest validation ROUGE-L, greedy decoding) is ``out_dir/best``."""
    if not train_pairs or not valid_pairs:
        raise DataError("fine-tuning needs training and validation pairs")
    model = new_model(cfg, tokenizer)
    if init_dir is not None:
        model.load_state_dict(load_model(init_dir).model.state_dict())
    train = TextPairs(train_pairs, tokenizer, cfg.model.window, cfg.target_tokens)
    held_out = valid_pairs[: cfg.valid_limit]
    greedy = DecodeConfig(num_beams=1, max_length=cfg.target_tokens, batch_size=32)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        found = Summarizer(m, tokenizer, greedy).summarize([d for d, _ in held_out])
        scores = rouge([s for _, s in held_out], [f.text for f in found])
        return {"val_rougeL": scores["rougeL"], "val_rouge1": scores["rouge1"]}

    train_cfg = replace(cfg.finetune, monitor="val_rougeL", monitor_mode="max")
    meta = {"task": "summarization", "pretrained": str(init_dir) if init_dir else None, **(metadata or {})}
    return _trainer(model, train_cfg, Path(out_dir), train, tokenizer, eval_fn, meta).fit(train, resume=resume)
