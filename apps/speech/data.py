"""The speech data: prepared folders of NeMo manifests, their validation and splits, and the
training sets built from them.

A prepared folder holds ``dataset.json``: the manifest of each split (``train``, ``valid``,
``test``; the generated English set adds ``tts_train``/``tts_valid``, the TTS voice speaking
training and validation sentences), the language and the split rule in one sentence. A
split is a manifest path, or ``{"manifest": path, "rows": [line indices]}`` when one of your
manifests was split here, so your audio is read where it lies (and stays confined to the
manifest's folder). The generated English set also writes ``lm.txt`` (text for the
character LM, never a validation or test sentence).

Your own data: NeMo JSONL manifests (``{"audio_filepath", "duration", "text"}`` a line,
audio paths relative to the manifest's folder): a folder with ``train.jsonl``,
``valid.jsonl`` and ``test.jsonl``, or one manifest, split by :func:`split_manifest`.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from apps.speech.audio import SAMPLE_RATE, read_audio, resample
from apps.speech.config import SPLITS, DataConfig
from apps.speech.manifest import ManifestEntry, read_manifest
from shared.atomic import atomic_write_text
from shared.errors import DataError
from shared.paths import config_path
from shared.tokenizers import pad_sequences

SPEAKER_KEYS = ("voice", "speaker")  # manifest fields naming who speaks, in the order looked for


# --- prepared folders --------------------------------------------------------------------------

def dataset_key(data: DataConfig, by: str = "voice") -> str:
    """The prepared folder's name under ``data.cache_dir``: every setting the data depends on; for
    your manifests their paths, sizes and modification times, so a changed file is prepared again."""
    if data.dataset == "english":
        from apps.speech.datasets.english import english_key

        return english_key(data.english, data.voice)
    if data.dataset == "fillets":
        return f"fillets-{data.fillets.language}-s{data.fillets.seed}"
    files = {k: config_path(v, f"data.manifests.{k}") for k, v in sorted(data.manifests.items())}
    stats = {k: [str(p), *((p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else ())] for k, p in files.items()}
    settings = [stats, data.language]
    if "all" in files:
        settings += [by, data.split_seed, data.valid_fraction, data.test_fraction] + ([data.voice] if by == "text" else [])
    return f"manifest-{hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:10]}"


def is_prepared(folder: str | Path) -> bool:
    return (Path(folder) / "dataset.json").is_file()


def prepare(data: DataConfig, out: str | Path, by: str = "voice", progress: bool = True) -> Path:
    """Build (or reference) the data's manifests in ``out``; ``by``: how one manifest of yours is split
    (``voice``: whole voices where rows name them, for ASR; ``text``: by sentence, for one TTS voice)."""
    out = Path(out)
    if data.dataset == "english":
        from apps.speech.datasets.english import build_english_set

        spec = build_english_set(out, data.english, data.voice, progress)
    elif data.dataset == "fillets":
        from apps.speech.datasets.fillets import build_fillets_set

        manifests = build_fillets_set(out, language=data.fillets.language, seed=data.fillets.seed, progress=progress)
        spec = {"splits": {k: str(v) for k, v in manifests.items()}, "language": data.fillets.language,
                "source": f"Fish Fillets NG voice-over ({data.fillets.language}, GPL-2), split by level",
                "split_rule": "whole game levels (seeded, about 10% of the lines each for validation and test): "
                              "no level's dialogue is on two sides; the voice actors are in every split"}
    else:
        spec = _manifest_spec(data, by)
    atomic_write_text(out / "dataset.json", json.dumps({"dataset": data.dataset, **spec}, indent=2) + "\n")
    return out


def _manifest_spec(data: DataConfig, by: str) -> dict:
    if "all" in data.manifests:
        if len(data.manifests) > 1:
            raise DataError("data.manifests: give all (one manifest to split) or train, valid and test, not both")
        path = config_path(data.manifests["all"], "data.manifests.all")
        entries = read_manifest(path)
        rows, rule = split_manifest(entries, by, data.split_seed, data.valid_fraction, data.test_fraction,
                                    data.voice if by == "text" else None)
        return {"splits": {s: {"manifest": str(path), "rows": rows[s]} for s in SPLITS}, "language": data.language,
                "source": f"your manifest {path.name}", "split_rule": rule}
    missing = [s for s in SPLITS if s not in data.manifests]
    if missing:
        raise DataError(f"manifest needs files for {', '.join(missing)} (set data.manifests.<split>=path.jsonl, "
                        "or data.manifests.all=one.jsonl to split one)")
    paths = {s: config_path(data.manifests[s], f"data.manifests.{s}") for s in SPLITS}
    return {"splits": {s: str(p) for s, p in paths.items()}, "language": data.language, "source": "your manifests",
            "split_rule": f"your {paths['test'].name} (validation: {paths['valid'].name})"}


def speaker(entry: ManifestEntry) -> str | None:
    """Who speaks ``entry``: its ``voice`` or ``speaker`` field, if any."""
    for key in SPEAKER_KEYS:
        value = entry.extra.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def _order(keys: Sequence[str], seed: int) -> list[str]:
    return sorted(keys, key=lambda k: hashlib.sha256(f"{seed}\0{k}".encode()).hexdigest())


def split_manifest(entries: Sequence[ManifestEntry], by: str = "voice", seed: int = 0, valid_fraction: float = 0.1,
                   test_fraction: float = 0.1, voice: str | None = None) -> tuple[dict[str, list[int]], str]:
    """Row indices per split of one manifest, and the rule in one sentence.

    Rows are grouped (``by="voice"``: by their ``voice``/``speaker`` field when at least three
    voices are named, so no voice is on two sides; else, and with ``by="text"``, by their
    normalised text, so no sentence is on two sides), the groups ordered by a seeded hash
    (SHA-256 of ``seed`` and the group), and the first ``round(test_fraction * groups)`` (at
    least one) taken for test, the next ``round(valid_fraction * groups)`` (at least one) for
    validation, the rest for training. With ``by="text"`` (one TTS voice) and rows naming
    several voices, only ``voice``'s rows are used.
    """
    indices = list(range(len(entries)))
    voices = sorted({v for v in (speaker(e) for e in entries) if v is not None})
    note = ""
    if by == "text" and len(voices) > 1:
        if voice not in voices:
            raise DataError(f"the manifest has {len(voices)} voices ({', '.join(voices[:5])}): TTS learns one, "
                            f"set data.voice to one of them")
        indices = [i for i in indices if speaker(entries[i]) == voice]
        note = f" (only {voice}'s {len(indices)} rows)"
    named = [speaker(entries[i]) for i in indices]
    if by == "voice" and len(voices) >= 3 and all(v is not None for v in named):
        group_of, unit = {i: str(v) for i, v in zip(indices, named)}, "voices"
    else:
        group_of, unit = {i: " ".join(entries[i].text.lower().split()) for i in indices}, "sentences"
        if by == "voice" and voices:
            note = f" (only {len(voices)} voice(s) named: they are on every side)"
    groups = _order(sorted(set(group_of.values())), seed)
    if len(groups) < 3:
        raise DataError(f"the manifest has {len(groups)} distinct {unit}: at least 3 are needed for train, valid and test")
    n_test = max(1, round(test_fraction * len(groups)))
    n_valid = max(1, round(valid_fraction * len(groups)))
    if n_test + n_valid >= len(groups):
        n_test, n_valid = 1, 1
    split_of = {g: "test" if k < n_test else "valid" if k < n_test + n_valid else "train" for k, g in enumerate(groups)}
    rows = {s: [i for i in indices if split_of[group_of[i]] == s] for s in SPLITS}
    rule = (f"{n_test} of {len(groups)} {unit} for test and {n_valid} for validation, chosen by a seeded hash "
            f"(data.split_seed={seed}, test_fraction={test_fraction}, valid_fraction={valid_fraction}): "
            f"no {unit[:-1]} is on two sides{note}")
    return rows, rule


def dataset_spec(folder: str | Path) -> dict:
    path = Path(folder) / "dataset.json"
    if not path.is_file():
        raise DataError(f"no prepared dataset in {folder}: run prepare first")
    return json.loads(path.read_text())


def load_split(folder: str | Path, split: str) -> list[ManifestEntry]:
    """The manifest entries of one split of a prepared folder."""
    splits = dataset_spec(folder)["splits"]
    if split not in splits:
        raise DataError(f"{folder} has no {split} split (has {', '.join(splits)})")
    spec = splits[split]
    if isinstance(spec, dict):
        entries = read_manifest(spec["manifest"])
        return [entries[i] for i in spec["rows"]]
    return read_manifest(spec)


def voice_entries(entries: list[ManifestEntry], voice: str) -> list[ManifestEntry]:
    """The rows TTS learns from: all of them when they name one voice or none, else ``voice``'s."""
    voices = sorted({v for v in (speaker(e) for e in entries) if v})
    if len(voices) <= 1:
        return list(entries)
    if voice not in voices:
        raise DataError(f"the data has {len(voices)} voices ({', '.join(voices[:5])}): TTS learns one, "
                        "set data.voice to one of them")
    return [e for e in entries if speaker(e) == voice]


def tts_entries(folder: str | Path, split: str, voice: str) -> list[ManifestEntry]:
    """The TTS voice's utterances of a split: ``tts_<split>`` where the set has it (the generated
    English set), else the split's rows of ``voice`` (see :func:`voice_entries`)."""
    if f"tts_{split}" in dataset_spec(folder)["splits"]:
        return load_split(folder, f"tts_{split}")
    return voice_entries(load_split(folder, split), voice)


def split_rule(folder: str | Path) -> str:
    return str(dataset_spec(folder).get("split_rule", ""))


def validate(folder: str | Path) -> dict:
    """Counts and hours per split; refuses empty splits, missing audio, empty text and a recording in two
    splits. Where sentences are the unit of splitting (the generated English set), the same sentence in
    two splits is refused too; in recorded speech, short lines ("yes", "what?") recur across levels
    naturally, so their count is reported (``test_texts_also_in_train``) instead."""
    spec = dataset_spec(folder)
    report: dict = {"utterances": {}, "hours": {}}
    texts: dict[str, str] = {}
    recordings: dict[str, str] = {}
    repeated = 0
    for split in SPLITS:
        entries = load_split(folder, split)
        if not entries:
            raise DataError(f"the {split} split has no utterances")
        for e in entries:
            if not Path(e.audio_filepath).is_file():
                raise DataError(f"{split}: {e.audio_filepath} does not exist")
            if not e.text.strip():
                raise DataError(f"{split}: {e.audio_filepath} has empty text")
            audio = str(Path(e.audio_filepath).resolve())
            if recordings.setdefault(audio, split) != split:
                raise DataError(f"{e.audio_filepath} is in both {recordings[audio]} and {split}")
            first = texts.setdefault(e.text, split)
            if first != split and spec.get("sentence_splits"):
                raise DataError(f"the sentence {e.text[:60]!r} is in both {first} and {split}")
            repeated += first == "train" and split == "test"
        report["utterances"][split] = len(entries)
        report["hours"][split] = round(sum(e.duration for e in entries) / 3600, 3)
    report["test_texts_also_in_train"] = repeated
    report["voices"] = sorted({v for v in (speaker(e) for e in load_split(folder, "test")) if v})
    report["language"] = spec.get("language", "en")
    return report


def lm_texts(folder: str | Path, train: list[Utterance]) -> list[str]:
    """Text for the character LM: ``lm.txt`` when the folder has one, else the training transcripts."""
    path = Path(folder) / "lm.txt"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [x for x in lines if x.strip()] or [u.text for u in train]


# --- training sets -----------------------------------------------------------------------------

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
