"""``sextant forecasting`` (alias ``sextant-forecast``)."""

import subprocess
import sys

import pandas as pd

from apps.forecasting.app import main


def test_help_has_examples():
    out = subprocess.run([sys.executable, "-c", "from apps.forecasting.app import main; main()", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Examples:" in out.stdout and "predict" in out.stdout


def test_bad_input_is_one_line_error(tmp_path, capsys):
    assert main(["train", "--config", "tiny", "--set", "train.lr=-1", "--prepared", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
    assert main(["predict", "x.csv", "--model", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 2
    assert "not a model folder" in capsys.readouterr().err
    assert main(["predict", "x.csv", "--model", str(tmp_path), "--out", str(tmp_path), "--format", "xml"]) == 2
    err = capsys.readouterr().err
    assert "'xml' is not one of" in err and err.count("\n") == 1


def test_predict_command(tiny, tmp_path, capsys):
    series = pd.read_parquet(f"{tiny['data']}/airpassengers.parquet")
    series.to_csv(tmp_path / "in.csv", index=False)
    code = main(["predict", str(tmp_path / "in.csv"), "--model", tiny["model_dir"], "--out", str(tmp_path / "o"),
                 "--format", "jsonl", "--series", "airpassengers"])
    out = capsys.readouterr().out
    assert code == 0 and "1 row: 1 ok" in out and (tmp_path / "o" / "forecast.png").is_file()
