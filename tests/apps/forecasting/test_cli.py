"""The sextant-forecast command line."""

import subprocess
import sys

import pandas as pd

from apps.forecasting.cli import main


def test_help_has_examples():
    out = subprocess.run([sys.executable, "-m", "apps.forecasting.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "examples:" in out.stdout and "predict" in out.stdout


def test_bad_input_is_one_line_error(tmp_path, capsys):
    assert main(["train", "--config", "tiny", "--set", "train.lr=-1", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    assert main(["predict", "--model", str(tmp_path / "nope"), "--input", "x.csv", "--out", str(tmp_path)]) == 2
    assert "not a model folder" in capsys.readouterr().err


def test_predict_command(tiny, tmp_path, capsys):
    series = pd.read_parquet(f"{tiny['data']}/airpassengers.parquet")
    series.to_csv(tmp_path / "in.csv", index=False)
    code = main(["predict", "--model", tiny["model_dir"], "--input", str(tmp_path / "in.csv"), "--out", str(tmp_path / "o"),
                 "--format", "jsonl", "--series", "airpassengers"])
    out = capsys.readouterr().out
    assert code == 0 and "1 row: 1 ok" in out and (tmp_path / "o" / "forecast.png").is_file()
