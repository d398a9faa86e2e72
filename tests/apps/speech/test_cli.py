"""sextant-speech from the command line: help, transcribe, synthesize (argument, file, stdin), one-line errors."""

import io
import json
import shutil

import pytest
import soundfile as sf

from apps.speech.cli import main
from apps.speech.steps import load_split


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "sextant-speech transcribe clips/" in out and "synthesize" in out


def test_transcribe_writes_jsonl_with_word_timings(tiny_speech, tmp_path, capsys):
    clips = tmp_path / "clips"
    clips.mkdir()
    for i, entry in enumerate(load_split(tiny_speech["data"], "test")):
        shutil.copy(entry.audio_filepath, clips / f"{i}.wav")
    code = main(["transcribe", str(clips), "--model", tiny_speech["asr"]["model_dir"], "--out", str(tmp_path / "t"),
                 "--align"])
    assert code == 0 and "3 rows: 3 ok" in capsys.readouterr().out
    rows = [json.loads(x) for x in (tmp_path / "t/transcripts.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all({"pred_text", "duration", "words", "compute_seconds"} <= set(r) for r in rows)


@pytest.mark.parametrize("source", ["argument", "file", "stdin"])
def test_synthesize_reads_text_from_argument_file_or_stdin(tiny_speech, tmp_path, capsys, monkeypatch, source):
    model, out = tiny_speech["tts"]["model_dir"], tmp_path / "out.wav"
    args = ["synthesize", "-o", str(out), "--model", model]
    if source == "argument":
        args.insert(1, "Hello there, 42 fish.")
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
    assert main(["transcribe", str(tmp_path / "missing"), "--model", asr, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: input not found") and len(err.strip().splitlines()) == 1
    assert main(["transcribe", str(tmp_path), "--model", tts, "--out", str(tmp_path / "o")]) == 2
    assert "not a speech recognition model" in capsys.readouterr().err
    assert main(["synthesize", "...", "-o", str(tmp_path / "x.wav"), "--model", tts]) == 2
    assert "nothing to say" in capsys.readouterr().err
    assert main(["synthesize", "hi", "-o", str(tmp_path / "x.mp3"), "--model", tts]) == 2
    assert "must be a .wav" in capsys.readouterr().err
    assert main(["train", "--config", "tiny", "--set", "dataset=manifest", "--data", str(tmp_path)]) == 2
    assert "manifest needs files" in capsys.readouterr().err
