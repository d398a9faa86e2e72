"""The one interface through which every modality enters the core.

An adapter maps a batch (a mapping of tensors) to ``(tokens[B, T, D],
padding_mask[B, T])`` with the padding mask True at padded positions. Apps
write adapters for their own modalities; the core ships the one
for token ids.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn


class Adapter(nn.Module, abc.ABC):
    """Maps a batch to ``(tokens[B, T, D], padding_mask[B, T])``."""

    output_dim: int

    @abc.abstractmethod
    def forward(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Return token vectors and the padding mask (True = padding)."""


class TokenEmbedding(Adapter):
    """Token ids -> vectors scaled by ``sqrt(d)``; reads ``batch[key]`` as an adapter."""

    def __init__(self, vocab_size: int, dim: int, pad_id: int = 0, key: str = "input_ids"):
        super().__init__()
        self.output_dim = dim
        self.pad_id = pad_id
        self.key = key
        self.scale = math.sqrt(dim)
        self.weight = nn.Parameter(nn.init.normal_(torch.empty(vocab_size, dim), std=dim**-0.5))

    def embed(self, ids: Tensor) -> Tensor:
        return nn.functional.embedding(ids, self.weight) * self.scale

    def forward(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        ids = batch[self.key]
        return self.embed(ids), ids == self.pad_id

