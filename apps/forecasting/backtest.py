"""Rolling-origin backtests of our model and the peers on the same windows."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from apps.forecasting.config import ForecastConfig
from apps.forecasting.data import PreparedDataset
from apps.forecasting.ensemble import ENSEMBLE, combine, validation_weights
from apps.forecasting.metrics import score_forecasts, summarise
from apps.forecasting.peers import peer_backtest
from apps.forecasting.plots import plot_forecasts
from apps.forecasting.predict import forecast_series, quantile_columns
from apps.forecasting.train import _panels, split_series
from shared.atomic import atomic_write_text
from shared.model_folder import load_model

OURS = "ours"


def our_backtest(model_dir: str | Path, cfg: ForecastConfig, datasets: list[PreparedDataset],
                 model: str = OURS) -> pd.DataFrame:
    """Forecasts from the validation cutoff and each held-out cutoff (history up to the cutoff only;
    no refit); ``window`` says which (``valid`` or ``test``)."""
    loaded = load_model(model_dir)
    model_cfg = loaded.model.cfg
    h, n = cfg.data.horizon, cfg.data.n_windows
    mid, lo, hi = quantile_columns(model_cfg.quantiles)
    frames = {d.name: d.frame() for d in datasets}
    series = split_series(datasets, h, n)
    groups = _panels(series) if model_cfg.kind == "itransformer" else [[s] for s in series]
    rows = []
    for k in range(-1, n):  # -1: the validation window
        for group in groups:
            cut = group[0].test_start + k * h
            preds = forecast_series(loaded.model, model_cfg, [s.values[:cut] for s in group], h,
                                    [s.season_length for s in group])
            for s, pred in zip(group, preds):
                f = frames[s.dataset]
                ds = f[f["unique_id"] == s.unique_id].sort_values("ds")["ds"].to_numpy()
                rows.append(pd.DataFrame({
                    "dataset": s.dataset, "unique_id": s.unique_id, "cutoff": ds[cut - 1], "ds": ds[cut : cut + h],
                    "y": s.values[cut : cut + h], "model": model, "median": pred[:, mid], "lo": pred[:, lo], "hi": pred[:, hi],
                    "window": "valid" if k < 0 else "test",
                }))
    return pd.concat(rows, ignore_index=True)


def run_backtest(model_dir: str | Path, cfg: ForecastConfig, datasets: list[PreparedDataset], out_dir: str | Path,
                 peers: list[str] | None = None) -> dict:
    """Backtest ours, the peers and (with peers) their ensemble, score, plot; write ``metrics.json``,
    ``metrics.md``, ``windows.csv``, ``forecasts.parquet`` and ``backtest.png`` under ``out_dir``.
    Scores are on the held-out windows; the validation window sets the ensemble's weights."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    peers = cfg.peers if peers is None else peers
    start = time.perf_counter()
    ours = our_backtest(model_dir, cfg, datasets)
    timings = {OURS: time.perf_counter() - start}
    frames = [ours]
    for d in datasets:
        if peers:
            peer_frame, seconds = peer_backtest(d, cfg.data.horizon, cfg.data.n_windows, peers, cfg.arima_max_season,
                                                validation=True)
            frames.append(peer_frame)
            for name, sec in seconds.items():
                timings[name] = timings.get(name, 0.0) + sec
    history = pd.concat([d.frame().assign(dataset=d.name) for d in datasets], ignore_index=True)
    seasons = {d.name: d.season_length for d in datasets}
    forecasts, windows = score_with_ensemble(pd.concat(frames, ignore_index=True), history, seasons, peers)
    table = summarise(windows)
    forecasts.to_parquet(out_dir / "forecasts.parquet", index=False)
    windows.to_csv(out_dir / "windows.csv", index=False)
    first_ids = [forecasts[forecasts["dataset"] == d.name]["unique_id"].iloc[0] for d in datasets]
    best_peer = best_peer_name(table, peers)
    shown = [OURS] + ([best_peer] if best_peer else [])
    plot = plot_forecasts(history, forecasts[forecasts["model"].isin(shown)], out_dir / "backtest.png", series=first_ids,
                          title=f"Held-out backtest windows: ours vs best peer ({best_peer})")
    result = {
        "table": table.to_dict(orient="records"),
        "ours": _row(table, OURS, "ALL"),
        "best_peer": best_peer,
        "best_peer_scores": _row(table, best_peer, "ALL") if best_peer else None,
        "seconds": timings,
        "plot": str(plot),
        "arima_max_season": cfg.arima_max_season,
    }
    atomic_write_text(out_dir / "metrics.json", json.dumps(result, indent=2, default=str) + "\n")
    atomic_write_text(out_dir / "metrics.md", markdown_table(table, peers) + "\n")
    return result


def score_with_ensemble(forecasts: pd.DataFrame, history: pd.DataFrame, seasons: dict[str, int],
                        peers: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The held-out forecasts with the ensemble's added (when there are peers), and their per-window
    scores. ``forecasts`` holds every model's ``valid`` and ``test`` windows; the ensemble of the
    non-peer model(s) and the peers is weighted on the ``valid`` ones alone."""
    forecasts = forecasts.assign(cutoff=pd.to_datetime(forecasts["cutoff"]))
    test = forecasts[forecasts["window"] == "test"].drop(columns="window")
    if peers:
        valid_scores = score_forecasts(forecasts[forecasts["window"] == "valid"], history, seasons)
        members = sorted(set(test["model"]))
        test = pd.concat([test, combine(test, validation_weights(valid_scores, members))], ignore_index=True)
    return test, score_forecasts(test, history, seasons)


def best_peer_name(table: pd.DataFrame, peers: list[str]) -> str | None:
    overall = table[(table["dataset"] == "ALL") & table["model"].isin(peers)]
    return None if overall.empty else str(overall.sort_values("mase")["model"].iloc[0])


def _row(table: pd.DataFrame, model: str, dataset: str) -> dict[str, float]:
    row = table[(table["model"] == model) & (table["dataset"] == dataset)]
    return {k: float(v) for k, v in row.iloc[0].items() if k not in ("model", "dataset")} if len(row) else {}


def markdown_table(table: pd.DataFrame, peers: list[str]) -> str:
    """Per-dataset MASE (and sMAPE) of ours and each peer; the best per row in bold."""
    models = [OURS] + [p for p in peers if p in set(table["model"])] + ([ENSEMBLE] if ENSEMBLE in set(table["model"]) else [])
    datasets = [d for d in table["dataset"].unique() if d != "ALL"] + ["ALL"]
    lines = ["| dataset | " + " | ".join(f"{m} MASE" for m in models) + " | ours sMAPE | best peer sMAPE | ours 80% coverage |",
             "|---|" + "---:|" * (len(models) + 3)]
    for d in datasets:
        sub = table[table["dataset"] == d].set_index("model")
        mase = {m: sub.loc[m, "mase"] for m in models if m in sub.index}
        best = min(mase, key=lambda m: mase[m] if np.isfinite(mase[m]) else np.inf)
        cells = [("n/a" if m not in mase else f"**{mase[m]:.3f}**" if m == best else f"{mase[m]:.3f}") for m in models]
        peer_smape = min((sub.loc[p, "smape"] for p in peers if p in sub.index), default=float("nan"))
        label = "**mean over datasets every model ran on**" if d == "ALL" else d
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {sub.loc[OURS, 'smape']:.2f} | {peer_smape:.2f} | {sub.loc[OURS, 'coverage80']:.0%} |")
    per_dataset = table[table["dataset"] != "ALL"]
    if per_dataset.groupby("model")["dataset"].nunique().nunique() > 1:  # some model skipped a dataset
        full = per_dataset.groupby("model")["dataset"].nunique() == per_dataset["dataset"].nunique()
        means = per_dataset.groupby("model")["mase"].mean()
        best = min((m for m in models if full.get(m, False)), key=lambda m: means[m])
        cells = [("n/a" if not full.get(m, False) else f"**{means[m]:.3f}**" if m == best else f"{means[m]:.3f}") for m in models]
        lines.append("| **mean over all datasets** (models that ran on all) | " + " | ".join(cells) + " | | | |")
    return "\n".join(lines)
