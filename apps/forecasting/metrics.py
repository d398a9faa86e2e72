"""Forecast accuracy: MASE, sMAPE, MAE, and 80%-interval coverage and width.

Each backtest window is scored on its own (the MASE scale is the in-sample
seasonal-naive MAE of the history before that window's cutoff), then windows
are averaged per series and dataset. A collection's score is the mean of its
datasets' scores, so a dataset with many series does not dominate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def mase_scale(history: np.ndarray, season_length: int) -> float:
    """In-sample MAE of the seasonal naive forecast (naive when history is too short)."""
    m = season_length if len(history) > season_length else 1
    if len(history) <= m:
        return float("nan")
    scale = float(np.mean(np.abs(history[m:] - history[:-m])))
    return scale if scale > 0 else float("nan")


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent (0-200); points where both are 0 count as 0."""
    denom = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(2 * np.abs(actual - forecast), denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)
    return float(100 * ratio.mean())


def window_scores(actual: np.ndarray, median: np.ndarray, lo: np.ndarray, hi: np.ndarray, scale: float) -> dict[str, float]:
    """All metrics for one forecast window."""
    mae = float(np.mean(np.abs(actual - median)))
    return {
        "mase": mae / scale,
        "smape": smape(actual, median),
        "mae": mae,
        "coverage80": float(np.mean((actual >= lo) & (actual <= hi))),
        "width80": float(np.mean(hi - lo)) / scale,
    }


METRICS = ("mase", "smape", "mae", "coverage80", "width80")


def score_forecasts(forecasts: pd.DataFrame, scales: dict[tuple[str, pd.Timestamp], float]) -> pd.DataFrame:
    """Per-window scores from long forecasts.

    ``forecasts`` has ``dataset, unique_id, cutoff, ds, y, model, median, lo, hi``;
    ``scales`` maps ``(unique_id, cutoff)`` to the window's MASE scale.
    """
    rows = []
    for (model, dataset, uid, cutoff), w in forecasts.groupby(["model", "dataset", "unique_id", "cutoff"], sort=True):
        w = w.sort_values("ds")
        scores = window_scores(w["y"].to_numpy(), w["median"].to_numpy(), w["lo"].to_numpy(), w["hi"].to_numpy(), scales[(uid, cutoff)])
        rows.append({"model": model, "dataset": dataset, "unique_id": uid, "cutoff": cutoff, **scores})
    return pd.DataFrame(rows)


def summarise(window_table: pd.DataFrame) -> pd.DataFrame:
    """Mean scores per (model, dataset), plus an ``ALL`` row per model: the mean of the
    dataset means over the datasets *every* model has scores for (a model skipped on
    a hard dataset must not look better for it)."""
    per_dataset = window_table.groupby(["model", "dataset"], sort=True)[list(METRICS)].mean().reset_index()
    models = per_dataset["model"].nunique()
    common = per_dataset.groupby("dataset")["model"].nunique()
    common = set(common[common == models].index)
    overall = per_dataset[per_dataset["dataset"].isin(common)].groupby("model", sort=True)[list(METRICS)].mean().reset_index()
    overall.insert(1, "dataset", "ALL")
    return pd.concat([per_dataset, overall], ignore_index=True)
