"""SMILES sequence transformer: the shared character tokenizer, encoder and head.

The comparison model for the graph transformer: the same targets and
standardisation, but the molecule is read as a string (no graph structure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from apps.molecules.model import GraphModelConfig, to_target_units
from shared.config import config_from_dict
from shared.model_folder import register_builder
from shared.models import Encoder, SequenceHead, TokenEmbedding, TransformerConfig
from shared.tokenizers import PAD_ID, CharTokenizer, Tokenizer, pad_sequences


@dataclass
class TokenBatch:
    """Padded token ids and targets ``y [B, T]`` (the attribute the training loss reads)."""

    input_ids: Tensor
    y: Tensor


def collate_tokens(items: list[tuple[list[int], Tensor]]) -> TokenBatch:
    return TokenBatch(pad_sequences([ids for ids, _ in items], PAD_ID), torch.cat([y for _, y in items]))


class SmilesTransformer(nn.Module):
    """Token ids -> ``[B, num_targets]``; shares :class:`GraphModelConfig`'s widths and target handling."""

    def __init__(self, cfg: GraphModelConfig, vocab_size: int, max_len: int = 256):
        super().__init__()
        self.cfg = cfg
        core = TransformerConfig(d_model=cfg.d_model, n_heads=cfg.n_heads, encoder_layers=cfg.layers, d_ff=cfg.d_ff,
                                 dropout=cfg.dropout, position="learned", max_len=max_len)
        self.embed = TokenEmbedding(vocab_size, cfg.d_model, PAD_ID)
        self.encoder = Encoder(core)
        self.head = SequenceHead(cfg.d_model, cfg.num_targets, pooling="mean", dropout=cfg.dropout)

    def forward(self, batch: TokenBatch) -> Tensor:
        tokens, padding = self.embed({"input_ids": batch.input_ids})
        return self.head(self.encoder(tokens, padding), padding)

    def predict(self, batch: TokenBatch) -> Tensor:
        return to_target_units(self(batch), self.cfg)


def train_tokenizer(smiles: list[str]) -> CharTokenizer:
    return CharTokenizer.train(smiles)


@register_builder("molecules-smiles")
def _builder(config: dict[str, Any], tokenizer: Tokenizer | None = None) -> nn.Module:
    if tokenizer is None:
        raise ValueError("a SMILES model folder needs its tokenizer.json")
    return SmilesTransformer(config_from_dict(GraphModelConfig, config), tokenizer.vocab_size)
