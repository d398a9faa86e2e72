"""Speak a text of any length: sentence by sentence, joined with short pauses, into one WAV."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from apps.speech.audio import SAMPLE_RATE, write_wav
from apps.speech.text import normalize_english, split_sentences
from apps.speech.tts import Synthesizer
from shared.errors import DataError

PAUSE_SECONDS = 0.25


def speak(synthesizer: Synthesizer, text: str, speed: float = 1.0) -> np.ndarray:
    """16 kHz float audio for ``text`` (sentences joined by ``PAUSE_SECONDS`` of silence)."""
    sentences = [s for s in split_sentences(" ".join(text.split())) if normalize_english(s)]
    if not sentences:
        raise DataError("nothing to say: the text has no words")
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), np.float32)
    pieces: list[np.ndarray] = []
    for audio in synthesizer.synthesize(sentences, speed):
        pieces += [audio, pause]
    return np.concatenate(pieces[:-1])


def synthesize_to_file(model_dir: str | Path, text: str, output: str | Path, speed: float = 1.0) -> dict:
    """Write ``output`` (.wav); returns its duration, compute seconds and real-time factor."""
    if Path(output).suffix.lower() != ".wav":
        raise DataError(f"{output}: the output must be a .wav file")
    synthesizer = Synthesizer(model_dir)
    start = time.perf_counter()
    audio = speak(synthesizer, text, speed)
    compute = time.perf_counter() - start
    write_wav(output, audio)
    seconds = len(audio) / SAMPLE_RATE
    return {"seconds": seconds, "compute_seconds": compute, "rtf": compute / max(seconds, 1e-9)}
