"""Position-wise feed-forward blocks: GELU MLP and SwiGLU."""

from __future__ import annotations

from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

MlpKind = Literal["gelu", "swiglu"]


class GeluMlp(nn.Module):
    """``Linear -> GELU -> Dropout -> Linear``."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.dropout(F.gelu(self.fc1(x))))


class SwiGluMlp(nn.Module):
    """Gated MLP of Shazeer (2020): ``(SiLU(x W) * x V) W2``, with W and V fused."""

    def __init__(self, dim: int, hidden: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.fc1 = nn.Linear(dim, 2 * hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, dim, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        gate, value = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(self.dropout(F.silu(gate) * value))


def make_mlp(kind: MlpKind, dim: int, hidden: int, dropout: float = 0.0, bias: bool = True) -> nn.Module:
    """Feed-forward block selected by name."""
    if kind == "gelu":
        return GeluMlp(dim, hidden, dropout, bias)
    if kind == "swiglu":
        return SwiGluMlp(dim, hidden, dropout, bias)
    raise ValueError(f"unknown mlp {kind!r}; use 'gelu' or 'swiglu'")
