"""Training, evaluating and predicting on the user's own long-format series."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apps.forecasting.app import APP, main
from apps.forecasting.data import dataset_freq, season_for, source_for
from shared.errors import DataError


def _user_series(path, n=96, freq="MS"):
    """Two seasonal monthly series with a trend, written as the user would have them (ds as text)."""
    t = np.arange(n)
    frames = [pd.DataFrame({"unique_id": uid, "ds": pd.date_range("2001-01-01", periods=n, freq=freq).strftime("%Y-%m-%d"),
                            "y": 100 + scale * t + 10 * np.sin(2 * np.pi * t / 12)}) for uid, scale in (("shop_a", 1.0), ("shop_b", 0.3))]
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("freq", "season"), [("MS", 12), ("QS-OCT", 4), ("W-SAT", 52), ("D", 7), ("h", 24),
                                              ("30min", 48), ("YS", 1), ("2h", 12)])
def test_season_follows_the_frequency(freq, season):
    assert season_for(freq) == season


def test_frequency_and_season_are_inferred_from_a_users_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _user_series(tmp_path / "sales.csv")
    source = source_for("sales.csv")
    assert (source.name, source.freq, source.season_length, source.licence) == ("sales", "MS", 12, "user data")
    assert source_for("sales.csv", freq="MS", season_length=6).season_length == 6
    assert dataset_freq(pd.read_csv(tmp_path / "sales.csv")) == "MS"


def test_a_users_file_with_missing_columns_or_an_unknown_name_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"id": ["a"], "date": ["2000-01-01"], "value": [1.0]}).to_csv("bad.csv", index=False)
    with pytest.raises(DataError, match="missing column"):
        source_for("bad.csv")
    with pytest.raises(DataError, match="unknown dataset 'my_series'.*long-format file"):
        source_for("my_series")


def test_train_evaluate_predict_on_a_users_csv(tmp_path, monkeypatch, capsys):
    """`train --data my.csv` prepares the file itself; evaluate scores the held-out windows next to the peers."""
    monkeypatch.chdir(tmp_path)
    _user_series(tmp_path / "my.csv")
    tiny = ["--config", "tiny", "--data", "my.csv", "--set", "peers=[SeasonalNaive]"]
    assert main(["train", *tiny, "--run", "run"]) == 0
    out = capsys.readouterr().out
    trained = json.loads(out[out.index("{"):])
    assert trained["model_dir"] == "run/best" and trained["steps"] == 6 and trained["metric"] == "val_mase"
    cfg = APP.with_data(APP.load_config("tiny"), "my.csv")
    prepared = APP.prepared_dir(cfg)
    assert prepared.parent == Path("data/cache/forecasting") and (prepared / "my.json").is_file()
    meta = json.loads((prepared / "my.json").read_text())
    assert (meta["freq"], meta["season_length"], meta["report"]["series"]) == ("MS", 12, 2)

    assert main(["evaluate", *tiny, "--model", "run/best", "--out", "eval"]) == 0
    table = json.loads((tmp_path / "eval/metrics.json").read_text())["table"]
    scored = {(row["dataset"], row["model"]) for row in table}
    assert {("my", "ours"), ("my", "SeasonalNaive")} <= scored
    windows = pd.read_csv(tmp_path / "eval/windows.csv")
    assert set(windows["unique_id"]) == {"shop_a", "shop_b"}

    capsys.readouterr()
    assert main(["predict", "my.csv", "--model", "run/best", "--out", "fc"]) == 0
    assert "2 rows: 2 ok" in capsys.readouterr().out


def test_a_changed_file_is_prepared_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _user_series(tmp_path / "my.csv")
    cfg = APP.with_data(APP.load_config("tiny"), "my.csv")
    first = APP.prepared_dir(cfg)
    _user_series(tmp_path / "my.csv", n=120)
    assert APP.prepared_dir(cfg) != first


def test_user_data_errors_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["prepare", "--config", "tiny", "--data", "notes.txt"]) == 2
    assert "expected a .csv or .parquet file" in capsys.readouterr().err
    assert main(["prepare", "--config", "tiny", "--data", "missing.csv"]) == 2
    assert "file not found" in capsys.readouterr().err
