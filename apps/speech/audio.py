"""Audio I/O: float32 mono at 16 kHz in, 16-bit PCM WAV out.

Files are read and written with soundfile (libsndfile: WAV, FLAC, OGG Vorbis,
...); ``torchaudio.load``/``save`` need FFmpeg and are not used. Other sample
rates are converted with ``torchaudio.functional.resample`` (windowed sinc).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio

from shared.atomic import atomic_write_bytes
from shared.errors import DataError
from shared.limits import env_limit

SAMPLE_RATE = 16000
SILENCE_DBFS = -50.0  # a peak below this is treated as silence
FRAME_SECONDS = 0.01  # frame used to find a quiet place to cut


def to_mono(data: np.ndarray) -> np.ndarray:
    """``[frames]`` or ``[frames, channels]`` as float32 ``[frames]`` (channels averaged)."""
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        data = data.mean(axis=1, dtype=np.float32)
    elif data.ndim != 1:
        raise DataError(f"audio must be [frames] or [frames, channels], got shape {data.shape}")
    return np.ascontiguousarray(data, dtype=np.float32)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Mono float32 ``audio`` converted from ``from_rate`` to ``to_rate`` Hz."""
    audio = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate or audio.size == 0:
        return audio
    if from_rate <= 0 or to_rate <= 0:
        raise DataError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    with torch.no_grad():
        out = torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(audio)), int(from_rate), int(to_rate))
    return out.numpy().astype(np.float32, copy=False)


def _unreadable_reason(error: Exception) -> str:
    if isinstance(error, sf.LibsndfileError):
        reason = error.error_string.strip().rstrip(".")
        return "no such file" if reason == "System error" else reason
    return str(error).strip() or type(error).__name__


MAX_SECONDS_ENV, MAX_SECONDS = "SEXTANT_MAX_AUDIO_SECONDS", 4 * 3600.0  # longer files are refused unread


def read_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The file as float32 mono in [-1, 1] at ``sample_rate`` Hz."""
    if not Path(path).is_file():
        raise DataError(f"{path}: not a readable audio file (no such file)")
    try:
        info = sf.info(str(path))
        limit = env_limit(MAX_SECONDS_ENV, MAX_SECONDS)
        if info.samplerate > 0 and info.frames / info.samplerate > limit:  # checked on the header, before reading
            raise DataError(f"{path}: {info.frames / info.samplerate:,.1f} s of audio is over the {limit:,g} s "
                            f"limit ({MAX_SECONDS_ENV})")
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable audio file ({_unreadable_reason(error)})") from None
    if data.shape[0] == 0:
        raise DataError(f"{path}: empty audio")
    return resample(to_mono(data), rate, sample_rate)


def check_audio(audio: np.ndarray, sample_rate: int, name: str) -> None:
    """Raise DataError if ``audio`` is empty, has NaN/inf samples or is silent."""
    if audio.size == 0:
        raise DataError(f"{name}: empty audio")
    if not np.isfinite(audio).all():
        raise DataError(f"{name}: audio contains NaN or infinite samples")
    peak = float(np.abs(audio).max())
    if peak < 10 ** (SILENCE_DBFS / 20):
        level = "-inf" if peak == 0 else f"{20 * np.log10(peak):.0f}"
        raise DataError(f"{name}: silent audio (peak {level} dBFS over {audio.size / sample_rate:.2f} s)")


def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """``audio`` clipped to [-1, 1] as the bytes of a 16-bit PCM WAV file."""
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write ``audio`` as a 16-bit PCM WAV file, atomically."""
    atomic_write_bytes(path, wav_bytes(audio, sample_rate))


def _quietest_cut(audio: np.ndarray, lo: int, hi: int, frame: int) -> int:
    """Middle of the lowest-energy ``frame`` fully inside ``audio[lo:hi]``; ``hi`` if none fits."""
    n = (hi - lo) // frame
    if n < 1:
        return hi
    frames = audio[lo : lo + n * frame].reshape(n, frame).astype(np.float64)
    return lo + int(np.argmin((frames**2).sum(axis=1))) * frame + frame // 2


def chunk_audio(audio: np.ndarray, sample_rate: int, max_seconds: float) -> list[tuple[int, np.ndarray]]:
    """``(start sample, piece)`` pieces of at most ``max_seconds`` that together are ``audio``.

    Each cut is at the quietest 10 ms frame in the last quarter of the window,
    so words are rarely cut; audio no longer than ``max_seconds`` is one piece.
    """
    limit = int(max_seconds * sample_rate)
    if limit < 1:
        raise DataError(f"max_seconds must give at least one sample, got {max_seconds} s at {sample_rate} Hz")
    frame = max(1, int(FRAME_SECONDS * sample_rate))
    pieces, start = [], 0
    while len(audio) - start > limit:
        cut = _quietest_cut(audio, start + (3 * limit) // 4, start + limit, frame)
        cut = max(cut, start + 1)
        pieces.append((start, audio[start:cut]))
        start = cut
    pieces.append((start, audio[start:]))
    return pieces
