"""Pictures of audio: log-mel spectrograms stacked one above the other."""

from __future__ import annotations

import io

import numpy as np
import torch

from apps.speech.audio import SAMPLE_RATE
from apps.speech.features import FeatureConfig, LogMel


def spectrogram_png(audios: dict[str, np.ndarray], title: str = "", features: FeatureConfig | None = None) -> bytes:
    """A PNG with one log-mel panel per named audio (same colour scale and time axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    features = features or FeatureConfig()
    logmel = LogMel(features)
    mels = {name: logmel(torch.from_numpy(np.asarray(a, np.float32))[None])[0].numpy() for name, a in audios.items()}
    lo = min(float(m.min()) for m in mels.values())
    hi = max(float(m.max()) for m in mels.values())
    seconds = max(m.shape[1] for m in mels.values()) * features.hop_length / SAMPLE_RATE
    fig, axes = plt.subplots(len(mels), 1, figsize=(10, 2.4 * len(mels)), squeeze=False)
    for ax, (name, mel) in zip(axes[:, 0], mels.items(), strict=True):
        extent = (0, mel.shape[1] * features.hop_length / SAMPLE_RATE, 0, mel.shape[0])
        ax.imshow(mel, origin="lower", aspect="auto", vmin=lo, vmax=hi, extent=extent, cmap="magma")
        ax.set_xlim(0, seconds)
        ax.set_ylabel("mel band")
        ax.set_title(name, fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("seconds")
    if title:
        fig.suptitle(title[:110], fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()
