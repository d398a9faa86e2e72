"""Small speech-specific layers: convolutional subsampling, Conformer convolution, duration predictor."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def subsampled_lengths(lengths: Tensor, factor: int) -> Tensor:
    """Valid frames after ``log2(factor)`` stride-2 convolutions (kernel 3, padding 1)."""
    for _ in range(factor.bit_length() - 1):
        lengths = (lengths - 1) // 2 + 1
    return lengths


class ConvSubsampling(nn.Module):
    """Log-mels ``[B, n_mels, T]`` -> tokens ``[B, T / factor, dim]`` with two 2-D convolutions.

    ``factor`` 4 uses two stride-2 layers, 2 one, 1 none (both stride 1).
    """

    def __init__(self, n_mels: int, dim: int, channels: int = 64, factor: int = 4):
        super().__init__()
        if factor not in (1, 2, 4):
            raise ValueError(f"subsampling factor must be 1, 2 or 4, got {factor}")
        self.factor = factor
        strides = {1: (1, 1), 2: (2, 1), 4: (2, 2)}[factor]
        self.convs = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=strides[0], padding=1), nn.GELU(),
            nn.Conv2d(channels, channels, 3, stride=strides[1], padding=1), nn.GELU(),
        )
        freq = n_mels
        for s in strides:
            freq = (freq - 1) // s + 1
        self.proj = nn.Linear(channels * freq, dim)

    def forward(self, features: Tensor) -> Tensor:
        x = self.convs(features.unsqueeze(1))  # [B, C, F', T']
        b, c, f, t = x.shape
        return self.proj(x.permute(0, 3, 1, 2).reshape(b, t, c * f))


class ConformerConvolution(nn.Module):
    """The Conformer convolution module, used as a residual branch after each encoder block:
    norm -> pointwise (GLU) -> depthwise conv -> norm -> SiLU -> pointwise -> dropout.
    Padded positions are zeroed before the depthwise convolution so they never leak in."""

    def __init__(self, dim: int, kernel_size: int = 15, dropout: float = 0.1):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("the Conformer kernel size must be odd")
        self.norm = nn.LayerNorm(dim)
        self.pointwise_in = nn.Linear(dim, 2 * dim)
        self.depthwise = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.depth_norm = nn.LayerNorm(dim)
        self.pointwise_out = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        h = nn.functional.glu(self.pointwise_in(self.norm(x)), dim=-1)
        if padding_mask is not None:
            h = h.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        h = self.depthwise(h.transpose(1, 2)).transpose(1, 2)
        return self.dropout(self.pointwise_out(nn.functional.silu(self.depth_norm(h))))


class DurationPredictor(nn.Module):
    """FastSpeech's predictor: two conv layers over token vectors -> log(1 + frames) per token."""

    def __init__(self, dim: int, channels: int = 256, kernel_size: int = 3, dropout: float = 0.1):
        super().__init__()
        self.conv1 = nn.Conv1d(dim, channels, kernel_size, padding=kernel_size // 2)
        self.norm1 = nn.LayerNorm(channels)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2)
        self.norm2 = nn.LayerNorm(channels)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(channels, 1)

    def forward(self, x: Tensor, padding_mask: Tensor | None = None) -> Tensor:
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        h = self.dropout(self.norm1(torch.relu(self.conv1(x.transpose(1, 2)).transpose(1, 2))))
        h = self.dropout(self.norm2(torch.relu(self.conv2(h.transpose(1, 2)).transpose(1, 2))))
        return self.out(h).squeeze(-1)


class PostNet(nn.Module):
    """Tacotron's residual refinement of predicted mels: ``layers`` 1-D convolutions with tanh."""

    def __init__(self, n_mels: int, channels: int = 256, layers: int = 5, kernel_size: int = 5, dropout: float = 0.1):
        super().__init__()
        dims = [n_mels] + [channels] * (layers - 1) + [n_mels]
        self.convs = nn.ModuleList(nn.Conv1d(a, b, kernel_size, padding=kernel_size // 2) for a, b in zip(dims, dims[1:]))
        self.dropout = nn.Dropout(dropout)

    def forward(self, mel: Tensor) -> Tensor:
        """``[B, n_mels, T]`` -> a correction of the same shape."""
        h = mel
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < len(self.convs) - 1:
                h = self.dropout(torch.tanh(h))
        return h


def length_regulate(x: Tensor, durations: Tensor) -> tuple[Tensor, Tensor]:
    """Repeat each token vector ``durations`` times: ``[B, S, D]`` -> ``[B, T, D]`` and the frames'
    padding mask (True = padding), ``T`` the longest total duration in the batch."""
    rows = [torch.repeat_interleave(x[i], durations[i].clamp(min=0), dim=0) for i in range(x.shape[0])]
    lengths = torch.tensor([r.shape[0] for r in rows])
    width = max(int(lengths.max()), 1)
    out = x.new_zeros(x.shape[0], width, x.shape[2])
    for i, row in enumerate(rows):
        out[i, : row.shape[0]] = row
    return out, torch.arange(width)[None, :] >= lengths[:, None]
