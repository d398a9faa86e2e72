"""A small speech set in the user's format, for the README's examples, the contract test and
the demo: real sentences (:mod:`.corpus`) read by flite voices (:mod:`.synth`), written as
``<folder>/<voice>/<n>.wav`` and one NeMo manifest ``<folder>/speech.jsonl`` (relative
paths, a ``voice`` field). Different voices read different sentences; the same arguments
give the same bytes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from apps.speech.audio import SAMPLE_RATE, write_wav
from apps.speech.datasets.corpus import english_sentences, shared_data_dir
from apps.speech.datasets.synth import get_voice, synthesize
from apps.speech.manifest import ManifestEntry, write_manifest

MAX_WORDS = 9  # short sentences: a few seconds each


def write_sample_set(folder: str | Path, voices: Sequence[str], per_voice: int = 3) -> Path:
    """``per_voice`` sentences for each of ``voices``; returns the manifest's path."""
    folder = Path(folder)
    sentences = [s for s in english_sentences(shared_data_dir(), max_documents=400) if len(s.split()) <= MAX_WORDS]
    needed = per_voice * len(voices)
    if len(sentences) < needed:
        sentences = english_sentences(shared_data_dir(), max_documents=4000)
    entries = []
    for v, name in enumerate(voices):
        voice = get_voice(name)
        for i, text in enumerate(sentences[v * per_voice : (v + 1) * per_voice]):
            audio = synthesize(text, voice)
            wav = folder / name / f"{i:03d}.wav"
            write_wav(wav, audio)
            entries.append(ManifestEntry(str(wav), round(len(audio) / SAMPLE_RATE, 3), text, {"voice": name}))
    return write_manifest(folder / "speech.jsonl", entries)
