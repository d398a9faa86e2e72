"""Reusable output heads: per-token labels, whole-sequence outputs, and CTC."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Pooling = Literal["mean", "first", "attention"]


class TokenClassificationHead(nn.Module):
    """Logits ``[B, T, num_labels]`` for every token."""

    def __init__(self, dim: int, num_labels: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(dim, num_labels)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.proj(self.dropout(hidden))


def masked_mean(hidden: Tensor, padding_mask: Tensor | None) -> Tensor:
    """Mean over real positions of ``[B, T, D]`` -> ``[B, D]``."""
    if padding_mask is None:
        return hidden.mean(dim=1)
    keep = (~padding_mask).unsqueeze(-1).to(hidden.dtype)
    return (hidden * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)


class SequenceHead(nn.Module):
    """One output vector per sequence: class logits or regression targets.

    ``pooling`` is a masked mean, the first token (a CLS token the adapter
    prepends), or learned attention pooling.
    """

    def __init__(self, dim: int, num_outputs: int, pooling: Pooling = "mean", dropout: float = 0.0, hidden: int | None = None):
        super().__init__()
        self.pooling = pooling
        self.score = nn.Linear(dim, 1) if pooling == "attention" else None
        hidden = hidden or dim
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, num_outputs))

    def pool(self, hidden: Tensor, padding_mask: Tensor | None) -> Tensor:
        if self.pooling == "first":
            return hidden[:, 0]
        if self.pooling == "mean":
            return masked_mean(hidden, padding_mask)
        scores = self.score(hidden).squeeze(-1)
        if padding_mask is not None:
            scores = scores.masked_fill(padding_mask, float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0)
        return torch.einsum("bt,btd->bd", weights, hidden)

    def forward(self, hidden: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        return self.mlp(self.pool(hidden, padding_mask))


class CTCHead(nn.Module):
    """Per-frame log-probabilities over a vocabulary whose ``blank_id`` is the CTC blank."""

    def __init__(self, dim: int, vocab_size: int, blank_id: int = 0):
        super().__init__()
        self.blank_id = blank_id
        self.proj = nn.Linear(dim, vocab_size)

    def forward(self, hidden: Tensor) -> Tensor:
        """``[B, T, V]`` log-probabilities."""
        return F.log_softmax(self.proj(hidden).float(), dim=-1)

    def loss(self, log_probs: Tensor, padding_mask: Tensor | None, targets: Tensor, target_lengths: Tensor) -> Tensor:
        """Mean CTC loss; ``targets`` ``[B, S]`` padded, ``target_lengths`` ``[B]``."""
        b, t, _ = log_probs.shape
        input_lengths = torch.full((b,), t, dtype=torch.long) if padding_mask is None else (~padding_mask).sum(1)
        return F.ctc_loss(
            log_probs.transpose(0, 1), targets, input_lengths, target_lengths,
            blank=self.blank_id, reduction="mean", zero_infinity=True,
        )

    def greedy_decode(self, log_probs: Tensor, padding_mask: Tensor | None = None) -> list[list[int]]:
        """Best path: argmax per frame, merge repeats, drop blanks."""
        best = log_probs.argmax(dim=-1).tolist()
        lengths = [len(row) for row in best] if padding_mask is None else (~padding_mask).sum(1).tolist()
        decoded = []
        for row, length in zip(best, lengths):
            out, previous = [], None
            for token in row[:length]:
                if token != previous and token != self.blank_id:
                    out.append(token)
                previous = token
            decoded.append(out)
        return decoded
