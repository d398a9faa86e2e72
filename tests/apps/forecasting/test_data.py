"""Loading and validating long-format series."""

import numpy as np
import pandas as pd
import pytest

from apps.forecasting.data import read_series_file, validate
from apps.forecasting.datasets import DATASETS, load_dataset
from shared.errors import DataError


def _frame(n=30, uid="a", start="2000-01-01", freq="MS"):
    return pd.DataFrame({"unique_id": uid, "ds": pd.date_range(start, periods=n, freq=freq), "y": np.arange(n, dtype=float)})


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_shipped_datasets_are_long_format(name):
    frame = load_dataset(name)
    assert list(frame.columns) == ["unique_id", "ds", "y"]
    clean, report = validate(frame, freq=DATASETS[name].freq)
    assert len(clean) >= 144 and not clean["y"].isna().any()
    assert not report.dropped


def test_co2_gaps_are_filled_and_reported():
    clean, report = validate(load_dataset("co2"), freq="W-SAT", fill="interpolate")
    assert report.filled_values == 59 and "filled 59" in report.problems[0]
    with pytest.raises(DataError, match="missing value"):
        validate(load_dataset("co2"), freq="W-SAT", fill="refuse")


def test_missing_column_is_a_clear_error():
    with pytest.raises(DataError, match=r"missing column\(s\) \['y'\]"):
        validate(_frame().drop(columns="y"))


def test_bad_series_are_dropped_with_reasons_and_good_ones_kept():
    good = _frame(uid="good")
    dup = _frame(uid="dup")
    dup.loc[3, "ds"] = dup.loc[2, "ds"]
    short = _frame(n=5, uid="short")
    gaps = _frame(uid="gaps")
    gaps.loc[[4, 5], "y"] = np.nan
    text = _frame(uid="text").astype({"y": object})
    text.loc[7, "y"] = "n/a"
    clean, report = validate(pd.concat([good, dup, short, gaps, text]), fill="refuse", min_length=10)
    assert set(clean["unique_id"]) == {"good"}
    assert "duplicate" in report.dropped["dup"]
    assert "too short" in report.dropped["short"]
    assert "missing value" in report.dropped["gaps"] and "missing value" in report.dropped["text"]
    assert any("non-numeric" in p for p in report.problems)


def test_repair_policies():
    dup = _frame(uid="dup")
    dup = pd.concat([dup, dup.iloc[[3]].assign(y=100.0)])
    clean, _ = validate(dup, duplicates="mean")
    assert clean.loc[3, "y"] == pytest.approx((3 + 100) / 2)
    holes = _frame().drop(index=[10, 11])
    clean, report = validate(holes, freq="MS", fill="interpolate")
    assert len(clean) == 30 and clean.loc[10, "y"] == pytest.approx(10.0)
    assert any("missing timestamp" in p for p in report.problems)


def test_irregular_timestamps_refused():
    f = _frame()
    f.loc[5, "ds"] = f.loc[5, "ds"] + pd.Timedelta(days=3)
    with pytest.raises(DataError, match="irregular"):
        validate(f, freq="MS")


def test_a_monthly_series_with_missing_months_stays_monthly():
    ds = pd.date_range("2000-01-01", periods=48, freq="MS")
    frame = pd.DataFrame({"unique_id": "m", "ds": ds, "y": np.arange(48.0)}).drop(index=[10, 11, 12, 30])
    out, report = validate(frame)
    assert len(out) == 48 and out["ds"].equals(pd.Series(ds, name="ds"))  # not refused as off a "31D" grid
    assert report.filled_values == 4 and np.allclose(out["y"], np.arange(48.0))


def test_unreadable_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_series_file(tmp_path / "empty.csv")
    with pytest.raises(DataError, match="not found"):
        read_series_file(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_text("x")
    with pytest.raises(DataError, match="csv or .parquet"):
        read_series_file(tmp_path / "x.xlsx")
