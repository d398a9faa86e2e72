"""The sextant-ocr command line: help with examples, reading, and one-line errors."""

import pytest

from apps.ocr import cli
from apps.ocr.steps import load_split


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "sextant-ocr read" in capsys.readouterr().out


def test_read_prints_text_and_confidence(tiny_ocr, tmp_path, capsys):
    image = load_split(tiny_ocr["data"], "test")[0].image
    code = cli.main(["read", image, "--model", tiny_ocr["model"], "--out", str(tmp_path / "out"), "--decode", "greedy"])
    out, err = capsys.readouterr()
    assert code == 0 and out.count("\t") == 2 and "1 row: 1 ok" in err


def test_bad_input_is_one_line_not_a_traceback(tiny_ocr, tmp_path, capsys):
    assert cli.main(["read", str(tmp_path / "missing.png"), "--model", tiny_ocr["model"]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: input not found") and "Traceback" not in err
    assert cli.main(["evaluate", "--config", "no-such-config", "--model", "x"]) == 2
    assert "Traceback" not in capsys.readouterr().err
