"""Griffin-Lim vocoder for :class:`~apps.speech.features.LogMel` features.

Mel magnitudes are mapped back to linear-frequency magnitudes with the
pseudo-inverse of the same mel filterbank (clamped at zero), then phase is
estimated by momentum Griffin-Lim (``torchaudio.functional.griffinlim``, the
function behind ``transforms.GriffinLim``, called with each output's length).
The random initial phase comes from torch's global RNG. torchaudio's
``InverseMelScale`` is not used: its default solver fails on the
rank-deficient 80-mel x 257-bin filterbank, while ``pinv`` gives the
minimum-norm least-squares answer. ``refine_iters`` multiplicative
non-negative least-squares updates (Lee & Seung) then pull the clamped
answer back towards the mel magnitudes; they matter for tonal sounds, whose
pinv answer rings with negative lobes that clamping distorts.
"""

from __future__ import annotations

import torch
import torchaudio
from torch import Tensor

from apps.speech.features import FeatureConfig, LogMel
from shared.errors import DataError


class GriffinLimVocoder:
    """``log_mel [n_mels, T]`` or ``[B, n_mels, T]`` -> float32 audio ``[(T-1) * hop]`` or ``[B, (T-1) * hop]``."""

    def __init__(self, config: FeatureConfig | None = None, n_iter: int = 32, momentum: float = 0.99,
                 refine_iters: int = 10):
        self.config = config or FeatureConfig()
        c = self.config
        fb = LogMel(c).mel.mel_scale.fb.double()  # [n_freqs, n_mels]
        self.filterbank = fb.float()
        self.inverse = torch.linalg.pinv(fb).float()  # [n_mels, n_freqs]
        self.refine_iters = refine_iters
        self.n_iter = n_iter
        self.momentum = momentum
        self.window = torch.hann_window(c.win_length)

    def linear_magnitude(self, log_mel: Tensor) -> Tensor:
        """``[..., n_mels, T]`` log-mel -> ``[..., n_freqs, T]`` non-negative linear magnitude."""
        mel = torch.exp(log_mel.float())
        linear = torch.clamp(torch.einsum("mf,...mt->...ft", self.inverse, mel), min=0.0)
        if self.refine_iters:
            fb = self.filterbank
            target = torch.einsum("fm,...mt->...ft", fb, mel)
            linear = linear + 1e-8  # zeros would stay zero under multiplicative updates
            for _ in range(self.refine_iters):
                projected = torch.einsum("fm,...ft->...mt", fb, linear)
                linear = linear * target / (torch.einsum("fm,...mt->...ft", fb, projected) + 1e-12)
        return linear

    def __call__(self, log_mel: Tensor) -> Tensor:
        log_mel = torch.as_tensor(log_mel)
        if log_mel.dim() not in (2, 3) or log_mel.shape[-2] != self.config.n_mels:
            raise DataError(f"vocoder expects [n_mels={self.config.n_mels}, T] or [B, n_mels, T], got {list(log_mel.shape)}")
        frames = log_mel.shape[-1]
        c = self.config
        with torch.no_grad():
            audio = torchaudio.functional.griffinlim(
                self.linear_magnitude(log_mel), self.window, c.n_fft, c.hop_length, c.win_length, power=1.0,
                n_iter=self.n_iter, momentum=self.momentum, length=max(0, (frames - 1) * c.hop_length), rand_init=True,
            )
        return audio.float()
