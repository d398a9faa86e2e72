"""Metric definitions: the utilsforecast-based scores equal the formulas they replace."""

import numpy as np
import pandas as pd
import pytest

from apps.forecasting.metrics import score_forecasts, summarise


def _reference_scale(history: np.ndarray, season_length: int) -> float:
    """The hand-written MASE scale used before utilsforecast: seasonal-naive MAE, naive when short."""
    m = season_length if len(history) > season_length else 1
    if len(history) <= m:
        return float("nan")
    scale = float(np.mean(np.abs(history[m:] - history[:-m])))
    return scale if scale > 0 else float("nan")


def _window(dataset, uid, cutoff, y, median, lo, hi, model="ours"):
    h = len(y)
    return pd.DataFrame({"dataset": dataset, "unique_id": uid, "cutoff": cutoff, "ds": np.arange(cutoff + 1, cutoff + 1 + h),
                         "y": y, "model": model, "median": median, "lo": lo, "hi": hi})


def test_scores_match_the_formulas_they_replace():
    rng = np.random.default_rng(0)
    values = {"a": rng.normal(10, 3, 40).cumsum(), "b": rng.normal(0, 1, 9) + 5, "c": rng.normal(0, 2, 30)}
    history = pd.concat([pd.DataFrame({"dataset": "d" if uid != "c" else "e", "unique_id": uid, "ds": np.arange(len(v)), "y": v})
                         for uid, v in values.items()], ignore_index=True)
    seasons = {"d": 4, "e": 12}
    forecasts, expected = [], []
    # b's first window has 4 values of history (not longer than its season of 4): the naive scale
    for uid, cutoff in [("a", 29), ("a", 34), ("b", 3), ("b", 5), ("c", 19), ("c", 24)]:
        y = values[uid][cutoff + 1 : cutoff + 4]
        median = y + rng.normal(0, 1, len(y))
        lo, hi = median - rng.uniform(0, 2, len(y)), median + rng.uniform(0, 2, len(y))
        dataset = "e" if uid == "c" else "d"
        forecasts.append(_window(dataset, uid, cutoff, y, median, lo, hi))
        scale = _reference_scale(values[uid][: cutoff + 1], seasons[dataset])
        mae = np.mean(np.abs(y - median))
        expected.append({"unique_id": uid, "cutoff": cutoff, "mase": mae / scale, "mae": mae,
                         "smape": 100 * np.mean(2 * np.abs(y - median) / (np.abs(y) + np.abs(median))),
                         "coverage80": np.mean((y >= lo) & (y <= hi)), "width80": np.mean(hi - lo) / scale})
    scores = score_forecasts(pd.concat(forecasts, ignore_index=True), history, seasons)
    got = scores.set_index(["unique_id", "cutoff"]).sort_index()
    want = pd.DataFrame(expected).set_index(["unique_id", "cutoff"]).sort_index()
    for metric in ("mase", "smape", "mae", "coverage80", "width80"):
        np.testing.assert_allclose(got[metric].to_numpy(), want[metric].to_numpy(), rtol=1e-9, err_msg=metric)
    assert _reference_scale(values["b"][:4], 4) == pytest.approx(np.mean(np.abs(np.diff(values["b"][:4]))))


def test_undefined_scales_and_summaries():
    history = pd.DataFrame({"dataset": "d", "unique_id": "flat", "ds": np.arange(10), "y": np.ones(10)})
    window = _window("d", "flat", 9, np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.zeros(2), np.full(2, 3.0))
    scores = score_forecasts(window, history, {"d": 1})
    assert np.isnan(scores["mase"].iloc[0]) and np.isnan(scores["width80"].iloc[0])  # a constant history: undefined
    assert scores["smape"].iloc[0] == pytest.approx(100 * (0 + 2 * 1 / 3) / 2)
    assert scores["coverage80"].iloc[0] == 1.0
    # a peer missing a dataset is left out of every model's ALL row
    table = pd.DataFrame({"model": ["ours", "ours", "peer"], "dataset": ["x", "y", "x"], "mase": [1.0, 3.0, 2.0],
                          "smape": 0.0, "mae": 0.0, "coverage80": 0.0, "width80": 0.0})
    overall = summarise(table).set_index(["model", "dataset"])["mase"]
    assert overall[("ours", "ALL")] == 1.0 and overall[("peer", "ALL")] == 2.0
