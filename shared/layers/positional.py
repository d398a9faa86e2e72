"""Position information: sinusoidal, learned, rotary (RoPE) and ALiBi.

Sinusoidal and learned encodings are *added* to the token vectors. Rotary
embeddings *rotate* queries and keys inside self-attention, and ALiBi adds a
per-head linear distance *bias* to the attention scores. Every variant takes
a position offset so incremental decoding with a KV cache sees the same
positions as a full forward pass.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

PositionKind = Literal["sinusoidal", "learned", "rotary", "alibi", "none"]


def sinusoidal_table(length: int, dim: int) -> Tensor:
    """The ``[length, dim]`` table of Vaswani et al. (2017)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * div)
    table[:, 1::2] = torch.cos(position * div[: dim // 2])
    return table


def sinusoidal_table_2d(height: int, width: int, dim: int) -> Tensor:
    """A ``[height * width, dim]`` table for a row-major grid: half the channels encode the row,
    half the column, each with :func:`sinusoidal_table` (``dim`` must be divisible by 4)."""
    if dim % 4:
        raise ValueError(f"a 2D sinusoidal table needs dim divisible by 4, got {dim}")
    rows = sinusoidal_table(height, dim // 2)[:, None, :].expand(height, width, dim // 2)
    cols = sinusoidal_table(width, dim // 2)[None, :, :].expand(height, width, dim // 2)
    return torch.cat([rows, cols], dim=-1).reshape(height * width, dim)


class SinusoidalPosition(nn.Module):
    """Adds fixed sinusoids; extends itself to any length on demand."""

    def __init__(self, dim: int, max_len: int = 2048):
        super().__init__()
        self.dim = dim
        self.register_buffer("table", sinusoidal_table(max_len, dim), persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        end = offset + x.shape[1]
        if end > self.table.shape[0]:
            self.table = sinusoidal_table(max(end, 2 * self.table.shape[0]), self.dim).to(self.table.device)
        return x + self.table[offset:end].to(x.dtype)


class LearnedPosition(nn.Module):
    """Adds a trained embedding per absolute position (fixed maximum length)."""

    def __init__(self, dim: int, max_len: int = 2048):
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, dim)
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        end = offset + x.shape[1]
        if end > self.max_len:
            raise ValueError(f"sequence of {end} positions exceeds learned max_len={self.max_len}")
        return x + self.embedding.weight[offset:end]


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (Su et al., 2021) for ``[B, H, T, Dh]`` queries/keys."""

    def __init__(self, head_dim: int, base: float = 10000.0, max_len: int = 2048):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head dim, got {head_dim}")
        self.head_dim = head_dim
        self.base = base
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._build(max_len)

    def _build(self, length: int) -> None:
        t = torch.arange(length, dtype=torch.float32, device=self.inv_freq.device)
        freqs = torch.outer(t, self.inv_freq)
        self.cos = torch.cat([freqs.cos(), freqs.cos()], dim=-1)
        self.sin = torch.cat([freqs.sin(), freqs.sin()], dim=-1)

    def rotate(self, x: Tensor, offset: int = 0) -> Tensor:
        """Rotate ``x`` ``[B, H, T, Dh]`` whose first position is ``offset``."""
        end = offset + x.shape[2]
        if end > self.cos.shape[0] or self.cos.device != x.device:
            self._build(max(end, 2 * self.cos.shape[0]))
        cos = self.cos[offset:end].to(x.dtype)
        sin = self.sin[offset:end].to(x.dtype)
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos + rotated * sin


def alibi_slopes(num_heads: int) -> Tensor:
    """Head slopes of Press et al. (2022), including the non-power-of-two rule."""

    def power_of_two(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(num_heads).is_integer():
        slopes = power_of_two(num_heads)
    else:
        closest = 2 ** math.floor(math.log2(num_heads))
        slopes = power_of_two(closest) + power_of_two(2 * closest)[0::2][: num_heads - closest]
    return torch.tensor(slopes, dtype=torch.float32)


class ALiBi(nn.Module):
    """Linear distance bias added to attention scores, ``-slope_h * |i - j|``."""

    def __init__(self, num_heads: int):
        super().__init__()
        self.register_buffer("slopes", alibi_slopes(num_heads), persistent=False)

    def bias(self, q_len: int, k_len: int, q_offset: int = 0) -> Tensor:
        """``[1, H, Tq, Tk]`` float bias for queries starting at ``q_offset``."""
        q_pos = torch.arange(q_offset, q_offset + q_len, device=self.slopes.device)
        k_pos = torch.arange(k_len, device=self.slopes.device)
        distance = (q_pos[:, None] - k_pos[None, :]).abs().float()
        return (-self.slopes[:, None, None] * distance)[None]


def make_additive_position(kind: PositionKind, dim: int, max_len: int) -> nn.Module | None:
    """The module added to token vectors, or ``None`` for rotary/ALiBi/none."""
    if kind == "sinusoidal":
        return SinusoidalPosition(dim, max_len)
    if kind == "learned":
        return LearnedPosition(dim, max_len)
    if kind in ("rotary", "alibi", "none"):
        return None
    raise ValueError(f"unknown position {kind!r}")
