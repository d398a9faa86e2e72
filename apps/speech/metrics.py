"""Speech metrics: word/character error rates (from :mod:`shared.text_metrics`), mel-cepstral
distortion, real-time factor.

MCD compares mel-cepstra c1..c24 (c0, the overall level, skipped) of the
:class:`~apps.speech.features.LogMel` natural-log mel magnitudes after DTW
alignment, and averages ``(10 / ln 10) * sqrt(2 * sum (c_ref - c_syn)^2)``
over aligned pairs whose reference frame is not silent (within
``silence_db`` of the loudest reference frame; pairs on silent reference
frames still shape the alignment). The cepstra are the orthonormal DCT-II
divided by ``sqrt(2 * n_mels)``, i.e. the real-cepstrum convention
``log|H(w)| = c0 + 2 * sum_m c_m cos(m w)`` that the MCD formula (its factor
2) assumes; the bare orthonormal DCT would inflate MCD by ``sqrt(160)``, about
12.6x for 80 mels. Values are then in the usual range (different speakers
~7 dB) but, coming from 80 Slaney mel bands rather than SPTK's mcep, are
strictly comparable only within this project.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio

from apps.speech.features import FeatureConfig, LogMel
from shared.errors import DataError
from shared.text_metrics import cer, edit_distance, error_rate, wer

__all__ = ["cer", "dtw_path", "edit_distance", "error_rate", "mel_cepstral_distortion", "real_time_factor", "wer"]


def _dct_matrix(n: int, keep: range) -> np.ndarray:
    """Rows ``keep`` of the orthonormal DCT-II matrix of size ``n``."""
    k = np.array(list(keep))[:, None]
    basis = np.sqrt(2.0 / n) * np.cos(np.pi * (np.arange(n)[None, :] + 0.5) * k / n)
    basis[k[:, 0] == 0] /= np.sqrt(2.0)
    return basis


def dtw_path(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost monotonic alignment of a ``[T1, T2]`` local-cost matrix (steps: right, down, diagonal)."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for d in range(2, n + m + 1):  # cells on one anti-diagonal depend only on the previous two
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        acc[i, j] = cost[i - 1, j - 1] + np.minimum(np.minimum(acc[i - 1, j], acc[i, j - 1]), acc[i - 1, j - 1])
    path, i, j = [], n, m
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        moves = ((i - 1, j - 1), (i - 1, j), (i, j - 1))
        i, j = min(moves, key=lambda ij: acc[ij])
    path.reverse()
    return path


def _mel_cepstra(audio, sample_rate: int, extractor: LogMel, dct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cepstra ``[T, 24]`` and frame log-energy ``[T]`` (natural log of mel power) of mono audio."""
    wave = torch.as_tensor(np.asarray(audio, dtype=np.float32)).flatten()
    if wave.numel() == 0:
        raise DataError("MCD: empty audio")
    target = extractor.config.sample_rate
    if sample_rate != target:
        wave = torchaudio.functional.resample(wave, sample_rate, target)
    with torch.no_grad():
        log_mel = extractor(wave[None])[0].double().numpy()  # [n_mels, T]
    energy = np.log(np.exp(2 * log_mel).sum(axis=0))
    return (dct @ log_mel).T, energy


def mel_cepstral_distortion(ref_audio, syn_audio, sample_rate: int = 16000, coefficients: int = 24,
                            silence_db: float | None = 40.0, config: FeatureConfig | None = None) -> float:
    """MCD in dB between a reference and a synthesised utterance, DTW-aligned."""
    extractor = LogMel(config)
    n_mels = extractor.config.n_mels
    dct = _dct_matrix(n_mels, range(1, coefficients + 1)) / math.sqrt(2 * n_mels)
    ref, ref_energy = _mel_cepstra(ref_audio, sample_rate, extractor, dct)
    syn, _ = _mel_cepstra(syn_audio, sample_rate, extractor, dct)
    frame_mcd = (10.0 / math.log(10.0)) * np.sqrt(2.0 * ((ref[:, None, :] - syn[None, :, :]) ** 2).sum(-1))
    path = dtw_path(frame_mcd)
    rows = np.array([i for i, _ in path])
    cols = np.array([j for _, j in path])
    if silence_db is not None:
        loud = ref_energy[rows] >= ref_energy.max() - silence_db * math.log(10.0) / 10.0
        rows, cols = rows[loud], cols[loud]
    return float(frame_mcd[rows, cols].mean())


def real_time_factor(seconds_spent: float, audio_seconds: float) -> float:
    """Processing time over audio duration (below 1 is faster than real time)."""
    if audio_seconds <= 0:
        raise DataError(f"real-time factor: audio duration must be positive, got {audio_seconds}")
    return seconds_spent / audio_seconds
