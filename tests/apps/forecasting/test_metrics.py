"""Metric definitions."""

import numpy as np
import pytest

from apps.forecasting.metrics import mase_scale, smape, window_scores


def test_mase_scale_is_seasonal_naive_mae():
    history = np.array([1.0, 2, 3, 5, 6, 7])
    assert mase_scale(history, 3) == pytest.approx(np.mean([4, 4, 4]))
    assert mase_scale(history, 12) == pytest.approx(np.mean(np.abs(np.diff(history))))  # too short: naive
    assert np.isnan(mase_scale(np.ones(10), 1))  # constant history: undefined, not infinite


def test_smape_and_interval_scores():
    assert smape(np.array([100.0, 0.0]), np.array([100.0, 0.0])) == 0.0
    assert smape(np.array([1.0]), np.array([3.0])) == pytest.approx(100.0)
    s = window_scores(np.array([1.0, 2, 3, 4]), np.array([1.0, 2, 3, 5]), np.array([0.0, 0, 0, 0]),
                      np.array([10.0, 10, 1, 10]), scale=0.5)
    assert s["mase"] == pytest.approx(0.25 / 0.5)
    assert s["coverage80"] == pytest.approx(0.75)
    assert s["width80"] == pytest.approx(np.mean([10, 10, 1, 10]) / 0.5)
