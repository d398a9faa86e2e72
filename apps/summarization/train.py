"""Pretraining (gap sentences) and fine-tuning of the summarizer on the shared training loop.

Pretraining picks its checkpoint by loss on gap-sentence examples from held-out
documents; fine-tuning starts from the pretrained weights (or from scratch) and
picks its checkpoint by ROUGE-L of greedy summaries on validation pairs only.
"""

from __future__ import annotations

from dataclasses import fields, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from apps.summarization.config import DecodeConfig, PretrainConfig, SummarizationTrainConfig
from apps.summarization.gap_sentences import gap_sentence_example
from apps.summarization.metrics import rouge
from apps.summarization.model import PointerGeneratorSummarizer, SummarizerModelConfig
from apps.summarization.predict import Summarizer
from apps.summarization.sentences import normalize
from shared.config import config_to_dict
from shared.errors import DataError
from shared.model_folder import load_model
from shared.tokenizers import Tokenizer, pad_sequences
from shared.training import TrainConfig, Trainer, TrainResult, length_bucketed_batches, seed_everything


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


def stage_config(cfg: TrainConfig) -> TrainConfig:
    """The shared loop's settings of one stage (its own fields only, none of the stage's extras)."""
    return TrainConfig(**{f.name: getattr(cfg, f.name) for f in fields(TrainConfig)})


def new_model(model_cfg: SummarizerModelConfig, tokenizer: Tokenizer, seed: int,
              init_dir: str | Path | None = None) -> PointerGeneratorSummarizer:
    """A fresh model sized to ``tokenizer``, with the weights of ``init_dir`` when given (which must
    have been trained with the same tokenizer: the same prepared data)."""
    seed_everything(seed)
    model = PointerGeneratorSummarizer(replace(model_cfg, vocab_size=tokenizer.vocab_size))
    if init_dir is not None:
        loaded = load_model(init_dir)
        if not isinstance(loaded.model, PointerGeneratorSummarizer) or loaded.tokenizer is None:
            raise DataError(f"--init {init_dir} is not a summarization model folder")
        if loaded.tokenizer.vocab_size != tokenizer.vocab_size or loaded.tokenizer.encode(_PROBE) != tokenizer.encode(_PROBE):
            raise DataError(f"--init {init_dir} was trained with another tokenizer: train both stages on the "
                            "same prepared data")
        try:
            model.load_state_dict(loaded.model.state_dict())
        except RuntimeError as err:
            raise DataError(f"--init {init_dir}: another architecture than model.* ({str(err).splitlines()[0]})") from None
    return model


_PROBE = "The quick brown fox jumps over the lazy dog: 3.5 GB of résumé files, e.g. libfoo-dev."


def pretrain(cfg: PretrainConfig, model_cfg: SummarizerModelConfig, tokenizer: Tokenizer, passages: list[list[str]],
             valid_passages: list[list[str]], out_dir: str | Path, init_dir: str | Path | None = None,
             resume: bool = False) -> TrainResult:
    """Gap-sentence pretraining (from ``init_dir`` weights when given); the best checkpoint (lowest
    held-out loss) is ``out_dir/best``."""
    train = TextPairs(gap_sentence_pairs(passages, cfg.gap_ratio, cfg.random_gaps, cfg.seed), tokenizer,
                      model_cfg.window, cfg.target_tokens)
    valid = TextPairs(gap_sentence_pairs(valid_passages, cfg.gap_ratio, 0.0, cfg.seed + 1)[: cfg.valid_limit],
                      tokenizer, model_cfg.window, cfg.target_tokens)
    if not len(train) or not len(valid):
        raise DataError("pretraining needs passages of at least two sentences, for training and validation")
    model = new_model(model_cfg, tokenizer, cfg.seed, init_dir)
    batches = [collate_pairs([valid[i] for i in range(s, min(s + 32, len(valid)))]) for s in range(0, len(valid), 32)]

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"val_loss": float(np.mean([m.loss(b).item() for b in batches]))}

    meta = {"task": "summarization-pretrain", "init": str(init_dir) if init_dir else None}
    return _trainer(model, stage_config(cfg), Path(out_dir), train, tokenizer, eval_fn,
                    meta).fit(train, resume=resume)


def finetune(cfg: SummarizationTrainConfig, model_cfg: SummarizerModelConfig, tokenizer: Tokenizer,
             train_pairs: list[tuple[str, str]], valid_pairs: list[tuple[str, str]], out_dir: str | Path,
             init_dir: str | Path | None = None, resume: bool = False, metadata: dict | None = None) -> TrainResult:
    """Fine-tune on (document, summary) pairs from ``init_dir`` weights (or from scratch); the best
    checkpoint (highest validation ROUGE-L, greedy decoding) is ``out_dir/best``."""
    if not train_pairs or not valid_pairs:
        raise DataError("fine-tuning needs training and validation pairs")
    model = new_model(model_cfg, tokenizer, cfg.seed, init_dir)
    train = TextPairs(train_pairs, tokenizer, model_cfg.window, cfg.target_tokens)
    held_out = valid_pairs[: cfg.valid_limit]
    greedy = DecodeConfig(num_beams=1, max_length=cfg.target_tokens, batch_size=32)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        found = Summarizer(m, tokenizer, greedy).summarize([d for d, _ in held_out])
        scores = rouge([s for _, s in held_out], [f.text for f in found])
        return {"val_rougeL": scores["rougeL"], "val_rouge1": scores["rouge1"]}

    meta = {"task": "summarization", "pretrained": str(init_dir) if init_dir else None, **(metadata or {})}
    return _trainer(model, stage_config(cfg), Path(out_dir), train, tokenizer, eval_fn,
                    meta).fit(train, resume=resume)
