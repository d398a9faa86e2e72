"""Synthetic copy/reverse sequence tasks: a smoke test of the whole core.

Each example is a task token (COPY or REVERSE) followed by random symbols;
the target is the symbols copied or reversed. Train and held-out sets are
drawn from different seeds and the held-out set excludes every training
sequence, so exact-match accuracy measures generalisation, not recall.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from shared.models import EncoderDecoder, GenerationConfig
from shared.tokenizers import BOS_ID, EOS_ID, PAD_ID, pad_sequences

COPY, REVERSE = 4, 5
FIRST_SYMBOL = 6


@dataclass
class SeqTaskConfig:
    """Shape of the toy task."""

    num_symbols: int = 10
    min_len: int = 3
    max_len: int = 8
    train_size: int = 4000
    test_size: int = 500
    seed: int = 0

    @property
    def vocab_size(self) -> int:
        return FIRST_SYMBOL + self.num_symbols


def _draw(cfg: SeqTaskConfig, count: int, rng: random.Random, exclude: set[tuple[int, ...]]) -> list[tuple[list[int], list[int]]]:
    examples = []
    while len(examples) < count:
        task = rng.choice((COPY, REVERSE))
        length = rng.randint(cfg.min_len, cfg.max_len)
        symbols = [FIRST_SYMBOL + rng.randrange(cfg.num_symbols) for _ in range(length)]
        source = [task, *symbols]
        if tuple(source) in exclude:
            continue
        exclude.add(tuple(source))
        examples.append((source, symbols if task == COPY else symbols[::-1]))
    return examples


def make_splits(cfg: SeqTaskConfig) -> tuple[SequencePairs, SequencePairs]:
    """Disjoint train and held-out sets."""
    seen: set[tuple[int, ...]] = set()
    train = _draw(cfg, cfg.train_size, random.Random(cfg.seed), seen)
    test = _draw(cfg, cfg.test_size, random.Random(cfg.seed + 1_000_003), seen)
    return SequencePairs(train), SequencePairs(test)


class SequencePairs(Dataset):
    """(source ids, target ids) pairs."""

    def __init__(self, pairs: list[tuple[list[int], list[int]]]):
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[list[int], list[int]]:
        return self.pairs[index]


def collate(pairs: list[tuple[list[int], list[int]]]) -> dict[str, Tensor]:
    """Pad a batch: encoder ids, decoder inputs (BOS + target), labels (target + EOS)."""
    return {
        "input_ids": pad_sequences([s for s, _ in pairs], PAD_ID),
        "decoder_input_ids": pad_sequences([[BOS_ID, *t] for _, t in pairs], PAD_ID),
        "labels": pad_sequences([[*t, EOS_ID] for _, t in pairs], PAD_ID),
    }


def seq2seq_loss(model: EncoderDecoder, batch: dict[str, Tensor]) -> Tensor:
    """Token-level cross-entropy, ignoring padding."""
    logits = model({"input_ids": batch["input_ids"]}, batch["decoder_input_ids"], batch["decoder_input_ids"] == PAD_ID)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["labels"].reshape(-1), ignore_index=PAD_ID)


@torch.no_grad()
def exact_match(model: EncoderDecoder, data: SequencePairs, batch_size: int = 250, generation: GenerationConfig | None = None) -> float:
    """Fraction of held-out sources whose generated output equals the target exactly."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(data), batch_size):
        pairs = [data[i] for i in range(start, min(start + batch_size, len(data)))]
        batch = collate(pairs)
        gen = generation or GenerationConfig(max_new_tokens=batch["labels"].shape[1] + 2)
        out = model.generate({"input_ids": batch["input_ids"]}, gen).tolist()
        for row, (_, target) in zip(out, pairs):
            predicted = row[: row.index(EOS_ID)] if EOS_ID in row else None
            correct += predicted == target
    model.train(was_training)
    return correct / len(data)
