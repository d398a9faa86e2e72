"""sextant-speech from the command line: help, predict (transcribe), synthesize (argument, file, stdin), one-line errors."""

import io
import json
import shutil

import pytest
import soundfile as sf

from apps.speech.app import main
from apps.speech.data import load_split


def test_help_shows_examples(capsys):
    assert main(["asr", "--help"]) == 0
    out = capsys.readouterr().out
    assert "sextant-speech asr predict clips/" in out and "train --config dutch" in out
    assert main(["tts", "--help"]) == 0
    out = capsys.readouterr().out
    assert "synthesize" in out and "align" in out
    assert main(["--help"]) == 0
    assert {"asr", "tts"} <= set(capsys.readouterr().out.split())


def test_transcribe_writes_jsonl_with_word_timings(tiny_speech, tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    for i, entry in enumerate(load_split(tiny_speech["data"], "test")):
        shutil.copy(entry.audio_filepath, clips / f"{i}.wav")
    code = main(["asr", "predict", str(clips), "--model", tiny_speech["asr"]["model_dir"], "--out", str(tmp_path / "t"),
                 "--align"])
    assert code == 0 and "3 rows: 3 ok" in capsys.readouterr().out
    rows = [json.loads(x) for x in (tmp_path / "t/transcripts.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all({"pred_text", "duration", "words", "compute_seconds"} <= set(r) for r in rows)


@pytest.mark.parametrize("source", ["argument", "file", "stdin"])
def test_synthesize_reads_text_from_argument_file_or_stdin(tiny_speech, tmp_path, capsys, monkeypatch, source):
    model, out = tiny_speech["tts"]["model_dir"], tmp_path / "out.wav"
    args = ["tts", "synthesize", "-o", str(out), "--model", model]
    if source == "argument":
        args.insert(2, "Hello there, 42 fish.")
    elif source == "file":
        (tmp_path / "in.txt").write_text("Hello there, 42 fish.")
        args += ["--file", str(tmp_path / "in.txt")]
    else:
        monkeypatch.setattr("sys.stdin", io.StringIO("Hello there, 42 fish."))
    assert main(args) == 0
    audio, rate = sf.read(out)
    assert rate == 16000 and len(audio) > 0 and "real-time factor" in capsys.readouterr().out


def test_bad_input_is_one_line_error(tiny_speech, tmp_path, capsys):
    asr, tts = tiny_speech["asr"]["model_dir"], tiny_speech["tts"]["model_dir"]
    assert main(["asr", "predict", str(tmp_path / "missing"), "--model", asr, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: input not found") and len(err.strip().splitlines()) == 1
    assert main(["asr", "predict", str(tmp_path), "--model", tts, "--out", str(tmp_path / "o")]) == 2
    assert "not a speech recognition model" in capsys.readouterr().err
    assert main(["tts", "synthesize", "...", "-o", str(tmp_path / "x.wav"), "--model", tts]) == 2
    assert "nothing to say" in capsys.readouterr().err
    assert main(["tts", "synthesize", "hi", "-o", str(tmp_path / "x.mp3"), "--model", tts]) == 2
    assert "must be a .wav" in capsys.readouterr().err
    assert main(["asr", "train", "--config", "tiny", "--set", "data.dataset=manifest",
                 "--prepared", str(tmp_path / "p")]) == 2
    assert "manifest needs files" in capsys.readouterr().err
    assert main(["asr", "predict", str(tmp_path), "--model", asr, "--out", str(tmp_path / "o"), "--decode", "loud"]) == 2
    assert "loud" in capsys.readouterr().err
