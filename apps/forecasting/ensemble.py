"""The ensemble mode: ours and the statsforecast peers combined per series.

Each member's weight for a series is the inverse of its MASE on that series' validation
window (the ``horizon`` steps before the held-out windows; inverse-error weighting), so the
weights never see a held-out value. The ensemble's median and 80% interval are the
weighted means of the members' (a member missing on a series, such as AutoARIMA on long
seasons, is left out of that series' ensemble).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ENSEMBLE = "ensemble"
COLUMNS = ["dataset", "unique_id", "cutoff", "ds", "y", "model", "median", "lo", "hi"]
MIN_MASE = 1e-3  # a member that was (nearly) exact on validation must not take every weight by division by 0


def validation_weights(valid_scores: pd.DataFrame, members: list[str]) -> pd.DataFrame:
    """``dataset, unique_id, model, weight`` from per-window validation scores (``model, dataset,
    unique_id, mase``): weights proportional to ``1 / MASE`` that sum to 1 per series. A member
    without a finite validation MASE gets 0; a series where no member has one weighs them equally."""
    scores = valid_scores[valid_scores["model"].isin(members)]
    scores = scores.groupby(["dataset", "unique_id", "model"], as_index=False)["mase"].mean()
    finite = np.isfinite(scores["mase"])
    scores["weight"] = np.where(finite, 1.0 / np.maximum(scores["mase"].where(finite, 1.0), MIN_MASE), 0.0)
    total = scores.groupby(["dataset", "unique_id"])["weight"].transform("sum")
    scores["weight"] = np.where(total > 0, scores["weight"] / total.where(total > 0, 1.0),
                                1.0 / scores.groupby(["dataset", "unique_id"])["weight"].transform("size"))
    return scores[["dataset", "unique_id", "model", "weight"]]


def combine(forecasts: pd.DataFrame, weights: pd.DataFrame) -> pd.DataFrame:
    """The ensemble's long forecasts (``model`` = ``ensemble``) from members' long forecasts
    (``dataset, unique_id, cutoff, ds, y, model, median, lo, hi``) and :func:`validation_weights`.
    Weights are renormalised over the members present at each step."""
    rows = forecasts.merge(weights, on=["dataset", "unique_id", "model"], how="inner")
    key = ["dataset", "unique_id", "cutoff", "ds"]
    for column in ("median", "lo", "hi"):
        rows[column] = rows[column] * rows["weight"]
    summed = rows.groupby(key, as_index=False).agg(y=("y", "first"), median=("median", "sum"), lo=("lo", "sum"),
                                                   hi=("hi", "sum"), weight=("weight", "sum"))
    for column in ("median", "lo", "hi"):
        summed[column] /= summed["weight"]
    return summed.drop(columns="weight").assign(model=ENSEMBLE)[COLUMNS]
