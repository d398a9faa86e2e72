"""The one acoustic feature shared by ASR, TTS and the vocoder: log-magnitude mel spectrograms.

16 kHz audio, 25 ms Hann windows (400 samples) every 10 ms (160 samples) on a
512-point FFT, 80 Slaney mel bands from 0 to 8 kHz, magnitude (not power),
natural log floored at ``1e-5``. ``center=True`` pads half a window on each
side, so ``n`` samples give ``n // hop + 1`` frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio
from torch import Tensor, nn


@dataclass
class FeatureConfig:
    """Log-mel parameters; every model and the vocoder must agree on them."""

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float = 8000.0
    log_floor: float = 1e-5


class LogMel(nn.Module):
    """``[B, samples]`` (or ``[samples]``) float audio -> ``[B, n_mels, frames]`` natural-log mel magnitudes."""

    def __init__(self, config: FeatureConfig | None = None):
        super().__init__()
        self.config = config or FeatureConfig()
        c = self.config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=c.sample_rate, n_fft=c.n_fft, win_length=c.win_length, hop_length=c.hop_length,
            f_min=c.f_min, f_max=c.f_max, n_mels=c.n_mels, power=1.0, center=True,
            norm="slaney", mel_scale="slaney",
        )
        # The window and filterbank follow from the config: keep them out of saved weights.
        for module in self.modules():
            for name, buffer in list(module._buffers.items()):
                if buffer is not None:
                    module.register_buffer(name, buffer, persistent=False)

    def frames(self, num_samples: int) -> int:
        """Number of frames produced for ``num_samples`` samples."""
        return num_samples // self.config.hop_length + 1

    def forward(self, audio: Tensor) -> Tensor:
        mel = self.mel(audio.float())
        return torch.log(torch.clamp(mel, min=self.config.log_floor))


class SpecAugment(nn.Module):
    """Training-time frequency and time masking of ``[B, n_mels, T]`` log-mels; identity in eval mode.

    Each example gets ``freq_masks`` bands of up to ``freq_width`` mel bins and
    one time mask per ``frames_per_time_mask`` valid frames (clamped to
    ``min_time_masks..max_time_masks``), each up to ``time_width`` of its
    valid length. Masks stay inside the valid part and are filled with the
    example's mean over that part. Randomness comes from torch's global RNG.
    """

    def __init__(self, freq_masks: int = 2, freq_width: int = 15, min_time_masks: int = 2, max_time_masks: int = 10,
                 frames_per_time_mask: int = 100, time_width: float = 0.05):
        super().__init__()
        self.freq_masks = freq_masks
        self.freq_width = freq_width
        self.min_time_masks = min_time_masks
        self.max_time_masks = max_time_masks
        self.frames_per_time_mask = frames_per_time_mask
        self.time_width = time_width

    @staticmethod
    def _span(limit: int, max_width: int) -> tuple[int, int]:
        """Random ``(start, end)`` of width ``0..max_width`` inside ``[0, limit)``."""
        width = int(torch.randint(0, max(0, min(max_width, limit)) + 1, ()).item())
        start = int(torch.randint(0, limit - width + 1, ()).item())
        return start, start + width

    def forward(self, features: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Masked copy of ``features``; ``lengths`` ``[B]`` valid frames (default: all)."""
        if not self.training:
            return features
        out = features.clone()
        b, n_mels, t = out.shape
        lengths_list = [t] * b if lengths is None else [min(int(x), t) for x in lengths.tolist()]
        for i, valid in enumerate(lengths_list):
            if valid <= 0:
                continue
            fill = out[i, :, :valid].mean()
            for _ in range(self.freq_masks):
                lo, hi = self._span(n_mels, self.freq_width)
                out[i, lo:hi, :valid] = fill
            count = min(self.max_time_masks, max(self.min_time_masks, valid // self.frames_per_time_mask))
            max_width = int(self.time_width * valid)
            for _ in range(count):
                lo, hi = self._span(valid, max_width)
                out[i, :, lo:hi] = fill
        return out
