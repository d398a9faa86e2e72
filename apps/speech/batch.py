"""Batch transcription of files, folders or manifests on the shared batch-inference contract.

Each audio file is one row (``row_id`` = its path relative to the folder or manifest it came
from). An unreadable, empty or silent file becomes an error row; long files are transcribed in
chunks. Every record holds the text, the audio duration, the compute seconds and real-time
factor of its batch share, and with ``align`` the words with start and end times. At the end
``transcripts.jsonl`` gathers all records in input order (NeMo's ``pred_text`` convention next
to ``audio_filepath`` and ``duration``). Reruns skip finished shards: a killed job resumes
without losing or duplicating a row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from apps.speech.audio import SAMPLE_RATE, check_audio, read_audio
from apps.speech.recognize import Recognizer
from shared.atomic import atomic_write_text
from shared.errors import DataError
from shared.inference import InferenceSummary, InputRow, RowError, file_rows, read_outputs, run_batch_inference

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au")


def read_rows(paths: Sequence[str | Path]) -> list[InputRow]:
    """One row per audio file named by ``paths`` (files, folders, .txt/.jsonl manifests), listed up
    front so a wrong path fails before any work starts; files are read when predicted."""
    return [row for path in paths for row in file_rows(path, AUDIO_SUFFIXES)]


def make_predict_fn(recognizer: Recognizer, align: bool):
    def predict(rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError | None] = [None] * len(rows)
        audios: list[np.ndarray] = []
        where: list[int] = []
        for i, row in enumerate(rows):
            try:
                audio = read_audio(row.payload)
                check_audio(audio, SAMPLE_RATE, str(row.payload))
                audios.append(audio)
                where.append(i)
            except DataError as err:
                results[i] = RowError(str(err))
        start = time.perf_counter()
        transcripts = recognizer.transcribe(audios, align=align) if audios else []
        seconds = time.perf_counter() - start
        total = sum(len(a) for a in audios) / SAMPLE_RATE
        for i, audio, found in zip(where, audios, transcripts, strict=True):
            duration = len(audio) / SAMPLE_RATE
            share = seconds * duration / max(total, 1e-9)
            record = {"audio_filepath": str(rows[i].payload), "duration": round(duration, 3), "pred_text": found.text,
                      "compute_seconds": round(share, 4), "rtf": round(share / max(duration, 1e-9), 4)}
            if align:
                record["words"] = json.dumps(found.words or [])
            results[i] = [record]
        return results  # type: ignore[return-value]

    return predict


def transcribe_paths(recognizer: Recognizer, paths: Sequence[str | Path], output_dir: str | Path, align: bool = False,
                     progress: bool = True, shard_size: int = 64, batch_size: int = 16) -> InferenceSummary:
    """Transcribe everything under ``paths`` into ``output_dir`` (resumable); writes transcripts.jsonl."""
    out = Path(output_dir)
    summary = run_batch_inference(read_rows(paths), make_predict_fn(recognizer, align), out, shard_size=shard_size,
                                  batch_size=batch_size, fmt="jsonl", progress=progress)
    records = []
    for record in read_outputs(out):
        if "words" in record and isinstance(record["words"], str):
            record["words"] = json.loads(record["words"])
        records.append(record)
    atomic_write_text(out / "transcripts.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    return summary


def make_speak_fn(synthesizer, output_dir: Path):
    """Predict function for batch synthesis: each .txt row becomes ``audio/<row_id>.wav``."""
    from apps.speech.audio import write_wav
    from apps.speech.synthesize import speak

    def predict(rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError] = []
        for row in rows:
            try:
                text = Path(row.payload).read_text(encoding="utf-8")
                start = time.perf_counter()
                audio = speak(synthesizer, text)
                compute = time.perf_counter() - start
            except (OSError, UnicodeDecodeError, DataError) as err:
                results.append(RowError(str(err).splitlines()[0] if str(err) else type(err).__name__))
                continue
            name = Path(*[p for p in Path(row.row_id).parts if p not in ("..", "/")]).with_suffix(".wav")
            write_wav(output_dir / "audio" / name, audio)
            seconds = len(audio) / SAMPLE_RATE
            results.append([{"text_file": str(row.payload), "audio": f"audio/{name.as_posix()}",
                             "seconds": round(seconds, 3), "rtf": round(compute / max(seconds, 1e-9), 4)}])
        return results

    return predict


def synthesize_paths(synthesizer, paths: Sequence[str | Path], output_dir: str | Path, progress: bool = True,
                     shard_size: int = 32) -> InferenceSummary:
    """Speak every .txt file under ``paths`` into ``output_dir/audio/`` (resumable; bad files are error rows)."""
    rows = [row for path in paths for row in file_rows(path, (".txt",))]
    out = Path(output_dir)
    return run_batch_inference(rows, make_speak_fn(synthesizer, out), out, shard_size=shard_size, batch_size=8,
                               fmt="jsonl", progress=progress)
