"""``sextant ocr`` (alias ``sextant-ocr``): help with examples, predicting, and one-line errors."""

import subprocess
import sys
from pathlib import Path

from apps.ocr.app import main
from apps.ocr.data import load_split


def test_help_shows_examples(capsys):
    assert main(["--help"]) == 0
    assert "sextant ocr predict" in capsys.readouterr().out
    out = subprocess.run([sys.executable, "-c", "import sys; from apps.ocr.app import main; sys.exit(main())",
                          "predict", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert all(flag in out.stdout for flag in ("--page", "--overlay", "--decode", "--beam", "--no-lm", "--format"))


def test_predict_writes_text_and_confidence(tiny_ocr, tmp_path, capsys):
    image = load_split(tiny_ocr["data"], "test")[0].image
    code = main(["predict", image, "--model", tiny_ocr["model"], "--out", str(tmp_path / "out"), "--decode", "greedy"])
    out = capsys.readouterr().out
    assert code == 0 and "1 row: 1 ok" in out and f"text: {tmp_path / 'out' / 'lines.txt'}" in out
    assert Path(tmp_path / "out" / "lines.txt").read_text().count("\t") == 2


def test_bad_input_is_one_line_not_a_traceback(tiny_ocr, tmp_path, capsys):
    assert main(["predict", str(tmp_path / "missing.png"), "--model", tiny_ocr["model"], "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: input not found") and "Traceback" not in err
    assert main(["evaluate", "--config", "no-such-config", "--model", "x"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert main(["train", "--config", "tiny", "--data", str(tmp_path / "none.tsv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
