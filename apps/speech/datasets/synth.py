"""English speech from real synthesisers (flite, espeak-ng, Festival HTS), as 16 kHz mono.

Each utterance runs the synthesiser program in a temporary folder: the text
goes in through a file (never a shell), the WAV comes back and is resampled to
16 kHz. A speech set is a folder of ``<split>/<voice>/<sentence id>.wav`` files
and one manifest per split; it is built by a process pool, and an interrupted
build resumes from the WAVs already written (each written atomically). All
three programs are deterministic, so the same inputs give the same bytes.
"""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from apps.speech.audio import SAMPLE_RATE, check_audio, read_audio, write_wav
from apps.speech.manifest import ManifestEntry, read_manifest, write_manifest
from shared.errors import DataError

TIMEOUT_SECONDS = 120.0
_INSTALL = {"flite": "flite", "espeak-ng": "espeak-ng", "text2wave": "festival festvox-us-slt-hts"}


@dataclass(frozen=True)
class Voice:
    """A synthesiser voice: ``engine`` is the program, ``options`` its voice/speed arguments."""

    name: str
    engine: str  # "flite", "espeak-ng" or "text2wave" (Festival)
    options: tuple[str, ...]


def _flite(name: str) -> Voice:
    return Voice(f"flite-{name}", "flite", ("-voice", name))


def _espeak(name: str, voice: str, speed: int) -> Voice:
    return Voice(name, "espeak-ng", ("-v", voice, "-s", str(speed)))


VOICES: dict[str, Voice] = {v.name: v for v in (
    _flite("kal"),  # 8 kHz diphone voice, upsampled (nothing above 4 kHz)
    _flite("kal16"),
    _flite("awb"),
    _flite("rms"),
    _flite("slt"),
    _espeak("espeak-us-160", "en-us", 160),
    _espeak("espeak-en-140", "en", 140),
    _espeak("espeak-us-f3-180", "en-us+f3", 180),
    _espeak("espeak-en-m3-150", "en+m3", 150),
    _espeak("espeak-us-f2-200", "en-us+f2", 200),
    Voice("festival-hts-slt", "text2wave", ("-eval", "(voice_cmu_us_slt_arctic_hts)")),  # 32 kHz
)}


def get_voice(name: str) -> Voice:
    """The voice called ``name``."""
    if name not in VOICES:
        raise DataError(f"unknown voice {name!r} (known: {', '.join(VOICES)})")
    return VOICES[name]


def _command(voice: Voice, text_file: Path, wav_file: Path) -> list[str]:
    program = shutil.which(voice.engine)
    if program is None:
        raise DataError(f"{voice.engine} not found: apt-get install {_INSTALL.get(voice.engine, voice.engine)}")
    if voice.engine == "flite":
        return [program, *voice.options, "-f", str(text_file), "-o", str(wav_file)]
    if voice.engine == "espeak-ng":
        return [program, *voice.options, "-f", str(text_file), "-w", str(wav_file)]
    if voice.engine == "text2wave":
        return [program, *voice.options, "-o", str(wav_file), str(text_file)]
    raise DataError(f"voice {voice.name}: unknown engine {voice.engine!r}")


def synthesize(text: str, voice: Voice, timeout: float = TIMEOUT_SECONDS) -> np.ndarray:
    """``text`` spoken by ``voice`` as float32 mono at 16 kHz."""
    text = " ".join(text.split()).replace("[[", "[ [")  # espeak-ng reads [[...]] as phonemes
    if not text:
        raise DataError(f"voice {voice.name}: empty text")
    with tempfile.TemporaryDirectory(prefix="sextant-synth-") as tmp:
        text_file, wav_file = Path(tmp) / "text.txt", Path(tmp) / "speech.wav"
        text_file.write_text(text + "\n", encoding="utf-8")
        command = _command(voice, text_file, wav_file)
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise DataError(f"voice {voice.name}: {voice.engine} timed out after {timeout:.0f} s on {text[:60]!r}") from None
        if run.returncode != 0 or not wav_file.is_file():
            detail = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
            raise DataError(f"voice {voice.name}: {voice.engine} failed on {text[:60]!r}: {detail}")
        audio = read_audio(wav_file, SAMPLE_RATE)
    check_audio(audio, SAMPLE_RATE, f"voice {voice.name} on {text[:60]!r}")
    return audio


# --- speech sets -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Job:
    split: str
    sentence_id: int
    text: str
    voice: str
    path: Path


def _run_job(job: _Job) -> tuple[_Job, float]:
    audio = synthesize(job.text, get_voice(job.voice))
    write_wav(job.path, audio, SAMPLE_RATE)
    return job, len(audio) / SAMPLE_RATE


def _init_worker() -> None:
    torch.set_num_threads(1)


def wav_path(out_dir: str | Path, split: str, voice: str, sentence_id: int) -> Path:
    """Where a set keeps one utterance: ``<out>/<split>/<voice>/<sentence id, 6 digits>.wav``."""
    return Path(out_dir) / split / voice / f"{sentence_id:06d}.wav"


def _previous_texts(manifest: Path) -> dict[tuple[str, int], str]:
    """(voice, sentence id) -> text of an earlier build's manifest, to avoid reusing stale WAVs."""
    if not manifest.is_file():
        return {}
    try:
        entries = read_manifest(manifest)
    except DataError:
        return {}
    return {(str(e.extra.get("voice")), int(e.extra.get("sentence_id", -1))): e.text for e in entries}


def build_speech_set(out_dir: str | Path, splits: dict[str, list[tuple[str, list[str]]]], workers: int = 2,
                     progress: bool = True) -> dict[str, Path]:
    """Synthesise ``{split: [(sentence, [voice names]), ...]}`` into ``out_dir``; returns the manifests
    ``<out>/<split>.jsonl`` (extra keys ``voice`` and ``sentence_id``, the sentence's index in its split).

    WAVs already there are reused unless an earlier manifest says they hold another sentence.
    """
    out = Path(out_dir)
    for name in {v for items in splits.values() for _, names in items for v in names}:
        get_voice(name)
    jobs, durations = [], {}
    for split, items in splits.items():
        previous = _previous_texts(out / f"{split}.jsonl")
        for sentence_id, (text, voices) in enumerate(items):
            for voice in voices:
                job = _Job(split, sentence_id, text, voice, wav_path(out, split, voice, sentence_id))
                stale = previous.get((voice, sentence_id), text) != text
                if job.path.is_file() and not stale:
                    try:
                        info = sf.info(str(job.path))
                        durations[job] = info.frames / info.samplerate
                        continue
                    except (sf.SoundFileError, RuntimeError):
                        pass  # unreadable: synthesise again
                jobs.append(job)
    bar = tqdm(total=len(jobs), desc="synthesising", unit="utt", disable=not progress,
                mininterval=0.5 if sys.stderr.isatty() else 30.0)
    try:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                durations[job] = _run_job(job)[1]
                bar.update()
        else:
            with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
                for job, seconds in pool.imap_unordered(_run_job, jobs, chunksize=4):
                    durations[job] = seconds
                    bar.update()
    finally:
        bar.close()
    manifests = {}
    for split, items in splits.items():
        entries = []
        for sentence_id, (text, voices) in enumerate(items):
            for voice in voices:
                job = _Job(split, sentence_id, text, voice, wav_path(out, split, voice, sentence_id))
                entries.append(ManifestEntry(str(job.path), round(durations[job], 4), text,
                                             {"voice": voice, "sentence_id": sentence_id}))
        manifests[split] = write_manifest(out / f"{split}.jsonl", entries)
    return manifests
