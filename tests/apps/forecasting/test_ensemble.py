"""The ensemble mode: per-series weights from the validation window only, weighted forecasts."""

import numpy as np
import pandas as pd
import pytest

from apps.forecasting.backtest import score_with_ensemble
from apps.forecasting.ensemble import combine, validation_weights


def test_weights_are_inverse_validation_mase_per_series():
    scores = pd.DataFrame({"model": ["ours", "ETS", "ours", "ETS", "ARIMA", "ours", "ETS"], "dataset": "d",
                           "unique_id": ["a", "a", "b", "b", "b", "c", "c"], "mase": [0.5, 1.5, 1.0, np.nan, 0.0, np.nan, np.inf]})
    w = validation_weights(scores, ["ours", "ETS", "ARIMA"]).set_index(["unique_id", "model"])["weight"]
    assert w["a", "ours"] == pytest.approx(0.75) and w["a", "ETS"] == pytest.approx(0.25)
    assert w.groupby(level=0).sum().tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert w["b", "ETS"] == 0 and w["c"].tolist() == [0.5, 0.5]  # no validation score: left out, or all equal
    assert w["b", "ARIMA"] > 0.99  # exact on validation: nearly all the weight, without dividing by zero


def test_combine_is_the_weighted_mean_renormalised_over_present_members():
    rows = pd.DataFrame({"dataset": "d", "unique_id": "a", "cutoff": 0, "ds": [1, 1, 2], "y": [10.0, 10.0, 11.0],
                         "model": ["ours", "ETS", "ours"], "median": [8.0, 12.0, 9.0], "lo": [7.0, 10.0, 8.0],
                         "hi": [9.0, 14.0, 10.0]})
    weights = pd.DataFrame({"dataset": "d", "unique_id": "a", "model": ["ours", "ETS"], "weight": [0.75, 0.25]})
    out = combine(rows, weights).sort_values("ds")
    assert out["model"].unique().tolist() == ["ensemble"]
    assert out["median"].tolist() == pytest.approx([9.0, 9.0]) and out["lo"].tolist() == pytest.approx([7.75, 8.0])


def test_ensemble_weights_never_read_the_held_out_windows():
    ds = pd.date_range("2000-01", periods=40, freq="MS")
    history = pd.DataFrame({"dataset": "d", "unique_id": "a", "ds": ds, "y": np.sin(np.arange(40.0)) + 5})

    def forecasts(test_y: float) -> pd.DataFrame:
        frames = []
        for window, cutoff, days in (("valid", ds[29], ds[30:35]), ("test", ds[34], ds[35:40])):
            for model, offset in (("ours", 0.1), ("SeasonalNaive", 1.0)):
                truth = history.set_index("ds").loc[days, "y"].to_numpy()
                y = truth * (1 if window == "valid" else test_y)  # only the held-out values change
                frames.append(pd.DataFrame({"dataset": "d", "unique_id": "a", "cutoff": cutoff, "ds": days, "y": y,
                                            "model": model, "median": truth + offset, "lo": truth - 1,
                                            "hi": truth + 1, "window": window}))
        return pd.concat(frames, ignore_index=True)

    a, scores = score_with_ensemble(forecasts(1.0), history, {"d": 12}, ["SeasonalNaive"])
    b, _ = score_with_ensemble(forecasts(3.0), history, {"d": 12}, ["SeasonalNaive"])
    assert set(scores["model"]) == {"ours", "SeasonalNaive", "ensemble"} and set(a["cutoff"]) == {ds[34]}
    # the same validation window gives the same weights, whatever the held-out values are
    ens = lambda f: f[f["model"] == "ensemble"]["median"].to_numpy()  # noqa: E731
    members = lambda f, m: f[f["model"] == m]["median"].to_numpy()  # noqa: E731
    weight_a = (ens(a) - members(a, "SeasonalNaive")) / (members(a, "ours") - members(a, "SeasonalNaive"))
    weight_b = (ens(b) - members(b, "SeasonalNaive")) / (members(b, "ours") - members(b, "SeasonalNaive"))
    np.testing.assert_allclose(weight_a, weight_b)
    assert 0.5 < weight_a[0] < 1  # ours was closer on validation
