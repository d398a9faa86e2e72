"""The generated English speech set: real sentences (:mod:`.corpus`) spoken by real
synthesisers (:mod:`.synth`).

Sentences are split before any audio is made, so no sentence is in two splits. Training
sentences are each spoken by ``voices_per_sentence`` of the training voices, validation ones
by one training voice each, and test ones by every test voice (``festival-hts-slt`` is never
heard in training or validation). The TTS voice (``data.voice``) also speaks the first
``tts_sentences`` training sentences and every validation sentence (``tts_train``,
``tts_valid``). ``lm.txt`` holds the training sentences and extra text for the character LM,
never a validation or test sentence.
"""

from __future__ import annotations

import random
from pathlib import Path

from apps.speech.config import EnglishSetConfig
from apps.speech.datasets.corpus import english_sentences, sentence_splits, shared_data_dir
from apps.speech.datasets.synth import build_speech_set
from shared.atomic import atomic_write_text
from shared.errors import ConfigError

Jobs = dict[str, list[tuple[str, list[str]]]]


def english_key(e: EnglishSetConfig, voice: str) -> str:
    """The prepared folder's name: every setting the set depends on."""
    return (f"english-d{e.max_documents}-{e.train_sentences}-{e.valid_sentences}-{e.test_sentences}-{e.lm_sentences}-"
            f"{e.tts_sentences}-{e.voices_per_sentence}-{len(e.train_voices)}v-s{e.seed}"
            + ("" if voice == "flite-slt" else f"-{voice}"))


def english_jobs(e: EnglishSetConfig, voice: str) -> tuple[Jobs, list[str]]:
    """Which voice speaks which sentence in each split, and the LM text."""
    if e.voices_per_sentence > len(e.train_voices):
        raise ConfigError("voices_per_sentence is larger than the number of training voices")
    unseen = sorted(set(e.test_voices) - set(e.train_voices))
    sentences = english_sentences(shared_data_dir(), e.max_documents or None)
    sizes = {"valid": e.valid_sentences, "test": e.test_sentences, "train": e.train_sentences, "lm": e.lm_sentences}
    if sum(sizes.values()) > len(sentences):
        sizes["lm"] = max(0, len(sentences) - sizes["valid"] - sizes["test"] - sizes["train"])
    split = sentence_splits(sentences, sizes, e.seed)
    rng = random.Random(e.seed)
    jobs = {
        "train": [(s, rng.sample(e.train_voices, e.voices_per_sentence)) for s in split["train"]],
        "valid": [(s, [e.train_voices[i % len(e.train_voices)]]) for i, s in enumerate(split["valid"])],
        "test": [(s, list(e.test_voices)) for s in split["test"]],
        "tts_train": [(s, [voice]) for s in split["train"][: e.tts_sentences]],
        "tts_valid": [(s, [voice]) for s in split["valid"]],
    }
    if unseen and any(v in unseen for _, voices in jobs["train"] + jobs["valid"] for v in voices):
        raise AssertionError("a held-out test voice leaked into training")  # guarded by construction
    return jobs, split["train"] + split["lm"]


def build_english_set(out: str | Path, e: EnglishSetConfig, voice: str, progress: bool = True) -> dict:
    """Synthesise the set into ``out``; returns the ``dataset.json`` fields (splits, split rule, ...)."""
    out = Path(out)
    jobs, lm_text = english_jobs(e, voice)
    manifests = build_speech_set(out, jobs, workers=e.workers, progress=progress)
    atomic_write_text(out / "lm.txt", "\n".join(lm_text) + "\n")
    unseen = sorted(set(e.test_voices) - set(e.train_voices))
    rule = (f"{e.test_sentences} sentences never in training or validation, spoken by {', '.join(e.test_voices)}"
            + (f" ({', '.join(unseen)} never heard in training)" if unseen else "")
            + f"; validation: {e.valid_sentences} other sentences (a seeded shuffle, seed {e.seed})")
    return {"splits": {k: str(v) for k, v in manifests.items()}, "language": "en",
            "source": "flite / festival / espeak-ng speech of sentences from ../shared/data",
            "unseen_test_voices": unseen, "split_rule": rule, "sentence_splits": True}
