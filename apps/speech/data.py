"""Training sets and batches: utterances from manifests -> padded audio and token tensors."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from apps.speech.audio import SAMPLE_RATE, read_audio, resample
from apps.speech.manifest import ManifestEntry
from shared.tokenizers import pad_sequences


@dataclass
class Utterance:
    """One (audio, text) pair; ``audio`` is read lazily when ``None``."""

    path: str
    text: str
    duration: float
    audio: np.ndarray | None = None

    def load(self) -> np.ndarray:
        return self.audio if self.audio is not None else read_audio(self.path)


def utterances(entries: Sequence[ManifestEntry], max_seconds: float | None = None) -> list[Utterance]:
    """Manifest entries with text, at most ``max_seconds`` long (longer ones are for chunked inference)."""
    return [Utterance(e.audio_filepath, e.text, e.duration) for e in entries
            if e.text.strip() and (max_seconds is None or e.duration <= max_seconds)]


def speed_perturb(audio: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch, as in Kaldi's speed perturbation)."""
    if factor == 1.0:
        return audio
    return resample(audio, round(SAMPLE_RATE * factor), SAMPLE_RATE)


class AsrTrainingSet(Dataset):
    """Items ``{"audio": float [S], "targets": long [L]}``; each draw picks a random speed and gain."""

    def __init__(self, items: Sequence[Utterance], encode: Callable[[str], list[int]],
                 speeds: Sequence[float] = (1.0,), gain_db: float = 6.0):
        self.items = list(items)
        self.targets = [encode(u.text) for u in self.items]
        self.speeds = list(speeds)
        self.gain_db = gain_db

    def __len__(self) -> int:
        return len(self.items)

    def lengths(self) -> list[int]:
        return [round(u.duration * 100) for u in self.items]

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        audio = speed_perturb(self.items[i].load(), random.choice(self.speeds))
        gain = 10 ** (random.uniform(-self.gain_db, self.gain_db) / 20) if self.gain_db else 1.0
        return {"audio": torch.from_numpy(np.clip(audio * gain, -1, 1).astype(np.float32)),
                "targets": torch.tensor(self.targets[i], dtype=torch.long)}


def pad_audio(audios: Sequence[Tensor | np.ndarray]) -> tuple[Tensor, Tensor]:
    """Right-padded ``[B, S]`` float audio and the lengths ``[B]``."""
    tensors = [torch.as_tensor(a, dtype=torch.float32) for a in audios]
    lengths = torch.tensor([t.shape[0] for t in tensors])
    out = torch.zeros(len(tensors), int(lengths.max()) if tensors else 0)
    for i, t in enumerate(tensors):
        out[i, : t.shape[0]] = t
    return out, lengths


def collate_asr(items: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    audio, lengths = pad_audio([x["audio"] for x in items])
    targets = pad_sequences([x["targets"].tolist() for x in items])
    return {"audio": audio, "audio_lengths": lengths, "targets": targets,
            "target_lengths": torch.tensor([len(x["targets"]) for x in items])}


class TtsTrainingSet(Dataset):
    """Items ``{"tokens": long [S], "durations": long [S], "mel": float [n_mels, T]}``
    with ``durations.sum() == T`` (precomputed by forced alignment)."""

    def __init__(self, tokens: Sequence[list[int]], durations: Sequence[list[int]], mels: Sequence[Tensor]):
        self.tokens, self.durations, self.mels = list(tokens), list(durations), list(mels)

    def __len__(self) -> int:
        return len(self.tokens)

    def lengths(self) -> list[int]:
        return [m.shape[-1] for m in self.mels]

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"tokens": torch.tensor(self.tokens[i]), "durations": torch.tensor(self.durations[i]), "mel": self.mels[i]}


def collate_tts(items: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    tokens = pad_sequences([x["tokens"].tolist() for x in items])
    durations = pad_sequences([x["durations"].tolist() for x in items])
    width = max(x["mel"].shape[-1] for x in items)
    mel = torch.zeros(len(items), items[0]["mel"].shape[0], width)
    for i, x in enumerate(items):
        mel[i, :, : x["mel"].shape[-1]] = x["mel"]
    return {"tokens": tokens, "durations": durations, "mel": mel}
