"""``sextant summarization`` (alias ``sextant-summarize``)."""

import subprocess
import sys

from apps.summarization.app import main


def test_help_has_examples_and_the_stages():
    out = subprocess.run([sys.executable, "-c", "from apps.summarization.app import main; main()", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Examples:" in out.stdout
    for verb in ("prepare", "pretrain", "train", "evaluate", "predict", "print-config"):
        assert verb in out.stdout


def test_cli_summarizes_a_file_and_gives_one_line_errors(tiny_summ, tmp_path, capsys):
    doc = tmp_path / "report.txt"
    doc.write_text("The package provides command line tools to inspect network traffic.")
    code = main(["predict", str(doc), "--model", tiny_summ["model"], "--out", str(tmp_path / "o"), "--max-length", "6"])
    out = capsys.readouterr()
    assert code == 0 and "1 row: 1 ok" in out.out and f"text: {tmp_path / 'o' / 'summaries.txt'}" in out.out
    assert (tmp_path / "o" / "summaries.txt").read_text().startswith("report.txt\t")
    assert main(["predict", str(tmp_path / "missing.txt"), "--model", tiny_summ["model"], "--out", str(tmp_path / "m")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main(["predict", str(doc), "--model", tiny_summ["model"], "--out", str(tmp_path / "x"), "--min-length", "9",
                 "--max-length", "4"]) == 2
    assert "min_length" in capsys.readouterr().err
    assert main(["predict", str(doc), "--model", tiny_summ["model"], "--out", str(tmp_path / "x"), "--format", "text"]) == 2
    err = capsys.readouterr().err
    assert "'text' is not one of" in err and err.count("\n") == 1


def test_config_keys_and_bad_overrides(capsys):
    assert main(["print-config", "--config", "tiny", "--set", "train.max_steps=7", "train.pretrain.max_steps=2"]) == 0
    printed = capsys.readouterr().out
    assert "max_steps: 7" in printed and "max_steps: 2" in printed
    assert main(["print-config", "--config", "tiny", "--set", "data.dataset=news"]) == 2
    assert "dataset must be one of" in capsys.readouterr().err
    assert main(["print-config", "--config", "tiny", "--set", "peers=[gpt]"]) == 2
    assert "unknown peer" in capsys.readouterr().err
