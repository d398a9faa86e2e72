"""Statistical peers from ``statsforecast`` on exactly our backtest windows."""

from __future__ import annotations

import time

import pandas as pd

from apps.forecasting.data import PreparedDataset


def _model(name: str, season_length: int):
    from statsforecast import models

    return getattr(models, name)(season_length=season_length)


def _windows(cv: pd.DataFrame) -> pd.Series:
    """``valid`` for each series' first cutoff of a cross-validation frame, ``test`` for the rest."""
    first = cv.groupby("unique_id")["cutoff"].transform("min")
    return (cv["cutoff"] == first).map({True: "valid", False: "test"})


def peer_backtest(dataset: PreparedDataset, horizon: int, n_windows: int, peers: list[str],
                  arima_max_season: int = 24, validation: bool = False) -> tuple[pd.DataFrame, dict[str, float]]:
    """Rolling-origin forecasts of each peer (refit at every cutoff, as statsforecast does),
    each on the full history before the cutoff. Returns long rows ``dataset, unique_id, cutoff,
    ds, y, model, median, lo, hi, window`` and seconds per peer; with ``validation`` the window
    before the ``n_windows`` held-out ones is forecast too (``window`` ``valid``; the rest ``test``).
    AutoARIMA is skipped when the season is longer than ``arima_max_season`` (see
    :class:`ForecastConfig`).
    """
    from statsforecast import StatsForecast

    frame = dataset.frame()
    out, seconds = [], {}
    for name in peers:
        if name == "AutoARIMA" and dataset.season_length > arima_max_season:
            continue
        start = time.perf_counter()
        sf = StatsForecast(models=[_model(name, dataset.season_length)], freq=dataset.freq, n_jobs=1)
        cv = sf.cross_validation(df=frame, h=horizon, n_windows=n_windows + validation, step_size=horizon, level=[80])
        seconds[name] = time.perf_counter() - start
        cv = cv.reset_index() if "unique_id" not in cv.columns else cv
        out.append(pd.DataFrame({
            "dataset": dataset.name, "unique_id": cv["unique_id"].astype(str), "cutoff": cv["cutoff"], "ds": cv["ds"],
            "y": cv["y"], "model": name, "median": cv[name], "lo": cv[f"{name}-lo-80"], "hi": cv[f"{name}-hi-80"],
            "window": _windows(cv) if validation else "test",
        }))
    return pd.concat(out, ignore_index=True), seconds
