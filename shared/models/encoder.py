"""Bidirectional encoder over adapter outputs."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from shared.models.config import TransformerConfig
from shared.models.stack import TransformerStack, init_weights


class Encoder(nn.Module):
    """Maps ``tokens[B, T, D]`` (from an adapter) to contextual vectors ``[B, T, D]``."""

    def __init__(self, cfg: TransformerConfig, num_layers: int | None = None,
                 interleaved: Sequence[nn.Module] | None = None):
        super().__init__()
        self.cfg = cfg
        self.stack = TransformerStack(cfg, num_layers or cfg.encoder_layers, causal=False, cross_attention=False,
                                      interleaved=interleaved)
        init_weights(self)

    def forward(self, tokens: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        return self.stack(tokens, padding_mask)
