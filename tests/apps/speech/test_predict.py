"""Batch transcription and synthesis (the predictors): bad files become error rows, reruns resume, outputs are complete."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import soundfile as sf

from apps.speech.app import TTS, TtsOptions
from apps.speech.audio import resample, write_wav
from apps.speech.config import DecodeConfig
from apps.speech.data import load_split
from apps.speech.manifest import read_manifest
from apps.speech.predict import AsrPredictor
from shared.app import run_predictor
from shared.inference import read_outputs


def transcribe_paths(predictor: AsrPredictor, paths, out, progress=False, shard_size=None):
    if shard_size:
        predictor.shard_size = shard_size
    result = run_predictor(predictor, [str(p) for p in paths], out, progress=progress)
    return SimpleNamespace(**result)


def _clips(folder: Path, data_dir: str) -> Path:
    """Test clips plus a stereo 44.1 kHz file, a long file, a corrupt file, an empty and a silent one."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = load_split(data_dir, "test")
    for i, entry in enumerate(entries):
        shutil.copy(entry.audio_filepath, folder / f"clip{i}.wav")
    audio, rate = sf.read(entries[0].audio_filepath, dtype="float32")
    upsampled = resample(audio, rate, 44100)
    sf.write(folder / "stereo44k.wav", np.stack([upsampled, 0.5 * upsampled], 1), 44100)
    write_wav(folder / "long.wav", np.concatenate([audio] * 6))
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (folder / "empty.flac").write_bytes(b"")
    write_wav(folder / "silent.wav", np.zeros(16000, np.float32))
    return folder


def test_bad_files_are_error_rows_and_the_rest_is_transcribed(tiny_speech, tmp_path):
    clips = _clips(tmp_path / "in", tiny_speech["data"])
    predictor = AsrPredictor(tiny_speech["asr"]["model_dir"], DecodeConfig(max_seconds=8.0), align=True)
    summary = transcribe_paths(predictor, [clips], tmp_path / "out")
    good = {p.name for p in clips.iterdir()} - {"corrupt.wav", "empty.flac", "silent.wav"}
    assert summary.rows == len(good) + 3 and summary.succeeded == len(good) and summary.errors == 3
    errors = {json.loads(x)["row_id"]: json.loads(x)["reason"] for x in (tmp_path / "out/errors.jsonl").read_text().splitlines()}
    assert "silent audio" in errors["silent.wav"] and "not a readable audio file" in errors["corrupt.wav"]
    records = {r["row_id"]: r for r in read_outputs(tmp_path / "out")}
    assert set(records) == good
    assert abs(records["stereo44k.wav"]["duration"] - records["clip0.wav"]["duration"]) < 0.01
    assert records["long.wav"]["duration"] > 8.0  # chunked, transcribed whole
    transcripts = [json.loads(x) for x in (tmp_path / "out/transcripts.jsonl").read_text().splitlines()]
    assert [t["row_id"] for t in transcripts] == sorted(good)
    for t in transcripts:
        assert isinstance(t["words"], list) and t["rtf"] >= 0
        assert all(0 <= w["start"] <= w["end"] <= t["duration"] + 0.05 for w in t["words"])


def test_a_killed_transcription_resumes_without_losing_or_duplicating(tiny_speech, tmp_path):
    clips = _clips(tmp_path / "in", tiny_speech["data"])
    predictor = AsrPredictor(tiny_speech["asr"]["model_dir"], DecodeConfig(method="greedy"))
    full = transcribe_paths(predictor, [clips], tmp_path / "out", shard_size=2)
    before = read_outputs(tmp_path / "out")
    (tmp_path / "out/shard-00001.jsonl").unlink()  # as if the job died while writing the second shard
    again = transcribe_paths(predictor, [clips], tmp_path / "out", shard_size=2)
    assert again.skipped_shards == full.written_shards - 1 and again.written_shards == 1
    after = read_outputs(tmp_path / "out")
    strip = [{k: v for k, v in r.items() if k not in ("compute_seconds", "rtf")} for r in before]
    assert [{k: v for k, v in r.items() if k not in ("compute_seconds", "rtf")} for r in after] == strip


def test_a_manifest_is_transcribed_like_a_folder(tiny_speech, tmp_path):
    manifest = Path(json.loads(Path(tiny_speech["data"], "dataset.json").read_text())["splits"]["test"])
    predictor = AsrPredictor(tiny_speech["asr"]["model_dir"], DecodeConfig(method="greedy"))
    summary = transcribe_paths(predictor, [manifest], tmp_path / "out")
    assert summary.succeeded == len(read_manifest(manifest)) and summary.errors == 0


def test_batch_synthesis_speaks_each_text(tiny_speech, tmp_path):
    """Every line of a .txt file (and the text of every JSONL line) is a text; unsayable texts and
    unreadable files are error rows, the rest one WAV each."""
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("The first text. It has two sentences.\n... !!!\n")  # line 2: nothing to say
    (texts / "b.jsonl").write_text('{"text": "A second text."}\n{"id": 3}\n')  # line 2: no text
    (texts / "c.txt").write_bytes(b"\xff\xfe\x00bad utf8")
    predictor = TTS.predictor(tiny_speech["tts"]["model_dir"], TtsOptions(griffin_lim_iters=2))
    summary = SimpleNamespace(**run_predictor(predictor, [str(texts)], tmp_path / "out", progress=False))
    assert summary.succeeded == 2 and summary.errors == 3
    errors = {json.loads(x)["row_id"]: json.loads(x)["reason"] for x in (tmp_path / "out/errors.jsonl").read_text().splitlines()}
    assert set(errors) == {"a.txt:2", "b.jsonl:2", "c.txt:<file>"} and "nothing to say" in errors["a.txt:2"]
    index = [json.loads(x) for x in (tmp_path / "out/synthesized.jsonl").read_text().splitlines()]
    assert [r["row_id"] for r in index] == ["a.txt:1", "b.jsonl:1"] and "audio_flac" not in index[0]
    for record in index:
        audio, rate = sf.read(tmp_path / "out" / record["audio"])
        assert rate == 16000 and abs(len(audio) / rate - record["seconds"]) < 0.01


def test_a_text_over_the_length_limit_is_an_error_row(tiny_speech, tmp_path, monkeypatch):
    monkeypatch.setenv("SEXTANT_MAX_TEXT_CHARS", "40")
    (tmp_path / "lines.txt").write_text("Short one.\n" + "A much longer text that goes on and on. " * 3 + "\n")
    predictor = TTS.predictor(tiny_speech["tts"]["model_dir"], TtsOptions(griffin_lim_iters=2))
    result = run_predictor(predictor, [str(tmp_path / "lines.txt")], tmp_path / "out", progress=False)
    assert (result["succeeded"], result["errors"]) == (1, 1)
    assert "over the limit of 40" in (tmp_path / "out/errors.jsonl").read_text()
