"""Forecast accuracy: MASE, sMAPE, MAE, and 80%-interval coverage and width, from utilsforecast.

Each backtest window (a series and a cutoff) is scored on its own with
``utilsforecast.losses``: its MASE scale is the in-sample seasonal-naive MAE of
the series' history up to the cutoff (the naive MAE where that history is not
longer than one season). Windows are then averaged per series and dataset, and a
collection's score is the mean of its datasets' scores, so a dataset with many
series does not dominate.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from utilsforecast import losses

METRICS = ("mase", "smape", "mae", "coverage80", "width80")
KEY = ["unique_id", "cutoff"]


def _scaled(windows: pd.DataFrame, history: pd.DataFrame, column: str, season_length: int) -> pd.Series:
    """``column``'s MAE against ``y`` in each window over its MASE scale (``utilsforecast.losses.mase``),
    indexed by (unique_id, cutoff): seasonal where the history up to the cutoff is longer than one season,
    naive where it is not, NaN where the scale is 0 or the history has one value."""
    seasonal, naive = (losses.mase(windows[[*KEY, "ds", "y", column]], [column], m, history).set_index(KEY)[column]
                       for m in (season_length, 1))
    cutoffs = seasonal.index.to_frame(index=False)
    merged = cutoffs.merge(history[["unique_id", "ds"]], on="unique_id")
    length = merged[merged["ds"] <= merged["cutoff"]].groupby(KEY).size().reindex(seasonal.index, fill_value=0)
    scaled = seasonal.where(length > season_length, naive.reindex(seasonal.index))
    return scaled.replace([np.inf, -np.inf], np.nan)


def score_forecasts(forecasts: pd.DataFrame, history: pd.DataFrame, seasons: Mapping[str, int]) -> pd.DataFrame:
    """Per-window scores from long forecasts.

    ``forecasts`` has ``dataset, unique_id, cutoff, ds, y, model, median, lo, hi`` (``lo``/``hi`` the
    80% interval); ``history`` has ``dataset, unique_id, ds, y`` (every observed value: each window's
    scale reads those up to its cutoff); ``seasons`` maps each dataset to its season length.
    Returns one row per (model, dataset, unique_id, cutoff) with :data:`METRICS` (sMAPE in percent,
    0-200; ``width80`` the interval's mean width in MASE units).
    """
    rows = []
    for (model, dataset), f in forecasts.groupby(["model", "dataset"], sort=True):
        windows = pd.DataFrame({"unique_id": f["unique_id"].astype(str), "cutoff": f["cutoff"], "ds": f["ds"],
                                "y": f["y"], "f": f["median"], "f-lo-80": f["lo"], "f-hi-80": f["hi"]})
        past = history[history["dataset"] == dataset]
        past = pd.DataFrame({"unique_id": past["unique_id"].astype(str), "ds": past["ds"], "y": past["y"]})
        past = past.sort_values(["unique_id", "ds"], kind="stable")
        scores = pd.DataFrame({
            "mase": _scaled(windows, past, "f", seasons[dataset]),
            "smape": 200 * losses.smape(windows, ["f"]).set_index(KEY)["f"],  # utilsforecast's is 0-1
            "mae": losses.mae(windows, ["f"]).set_index(KEY)["f"],
            "coverage80": losses.coverage(windows, ["f"], 80).set_index(KEY)["f"],
            # the mean distance between the interval's edges (hi >= lo), scaled as MASE scales an error
            "width80": _scaled(windows.assign(y=windows["f-hi-80"], w=windows["f-lo-80"]), past, "w", seasons[dataset]),
        }).reset_index()
        scores.insert(0, "dataset", dataset)
        scores.insert(0, "model", model)
        rows.append(scores[["model", "dataset", *KEY, *METRICS]])
    return pd.concat(rows, ignore_index=True).sort_values(["model", "dataset", *KEY], ignore_index=True)


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
