"""The forecasting app's pipeline steps.

Each function takes and returns small things (paths, config names, dicts),
so the CLI and the Prefect tasks call exactly the same code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd

from apps.forecasting.backtest import run_backtest
from apps.forecasting.batch import SUFFIXES, batch_forecast
from apps.forecasting.config import ForecastConfig, load_forecast_config
from apps.forecasting.data import USER_SUFFIXES, dataset_name, is_user_file, load_prepared, prepare, read_series_file
from apps.forecasting.plots import plot_forecasts
from apps.forecasting.train import fit
from shared.atomic import atomic_write_text
from shared.errors import DataError
from shared.inference import read_outputs, resolve_inputs
from shared.model_folder import load_model
from shared.paths import config_path


def config(name: str = "default", overrides: list[str] | None = None) -> ForecastConfig:
    return load_forecast_config(name, overrides)


def with_user_data(cfg: ForecastConfig, source: str | Path | None) -> ForecastConfig:
    """``cfg`` training on the user's long-format file, or every CSV/Parquet file in a folder."""
    if source is None:
        return cfg
    path = config_path(source, "--data")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in USER_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no {' or '.join(USER_SUFFIXES)} files")
    for file in files:
        if not file.is_file():
            raise DataError(f"file not found: {file}")
        if file.suffix.lower() not in USER_SUFFIXES:
            raise DataError(f"{file.name}: expected a {' or '.join(USER_SUFFIXES)} file (columns unique_id, ds, y)")
    return replace(cfg, data=replace(cfg.data, datasets=[str(f) for f in files]))


def prepared_dir(cfg: ForecastConfig) -> Path:
    """Where the configured datasets are prepared: the cache folder for shipped datasets, a
    sub-folder keyed on the files (path, size, time) and settings when a user's file is among them."""
    user = [e for e in cfg.data.datasets if is_user_file(e)]
    if not user:
        return Path(cfg.data.cache_dir)
    stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in (config_path(e, "data.datasets") for e in user)
             if p.is_file()]
    key = json.dumps([cfg.data.datasets, stats, cfg.data.freq, cfg.data.season_length, cfg.data.fill,
                      cfg.data.horizon, cfg.data.n_windows])
    return Path(cfg.data.cache_dir) / f"user-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def is_prepared(cfg: ForecastConfig, data_dir: str | Path) -> bool:
    return all((Path(data_dir) / f"{dataset_name(e)}.json").is_file() for e in cfg.data.datasets)


def prepare_data(cfg: ForecastConfig, out_dir: str | Path | None = None) -> str:
    """Load and validate the configured datasets into ``out_dir``; returns its path."""
    out = Path(out_dir or prepared_dir(cfg))
    prepare(cfg.data.datasets, out, fill=cfg.data.fill, min_length=cfg.data.horizon * (cfg.data.n_windows + 2),
            freq=cfg.data.freq, season_length=cfg.data.season_length)
    return str(out)


def validate_data(cfg: ForecastConfig, data_dir: str | Path) -> dict:
    """The validation reports of the prepared datasets (raises if one is missing)."""
    reports = {d.name: d.report for d in load_prepared(data_dir, cfg.data.datasets)}
    dropped = {k: r["dropped"] for k, r in reports.items() if r["dropped"]}
    return {"datasets": reports, "series": sum(r["series"] for r in reports.values()), "dropped": dropped}


def train_model(cfg: ForecastConfig, data_dir: str | Path, run_dir: str | Path, resume: bool = False) -> dict:
    """Train; returns the best model folder and its validation metric."""
    result = fit(cfg, load_prepared(data_dir, cfg.data.datasets), run_dir, resume=resume)
    return {"model_dir": str(Path(run_dir) / "best"), "val_mase": result.best_metric, "steps": result.step,
            "train_seconds": result.seconds}


def evaluate_model(cfg: ForecastConfig, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                   peers: list[str] | None = None) -> dict:
    """Backtest ours and the peers on the held-out windows; returns tables and the plot path."""
    return run_backtest(model_dir, cfg, load_prepared(data_dir, cfg.data.datasets), out_dir, peers)


def predict(model_dir: str | Path, input_path: str | Path, output_dir: str | Path, horizon: int | None = None,
            freq: str | None = None, plot_series: list[str] | None = None, max_plots: int = 6,
            fmt: str = "parquet", progress: bool = True) -> dict:
    """Batch-forecast every series under ``input_path``; writes shards, errors and a PNG."""
    loaded = load_model(model_dir)
    summary = batch_forecast(loaded, input_path, output_dir, horizon, freq, fmt=fmt, progress=progress)
    result = summary.to_dict()
    result["line"] = summary.line()
    records = read_outputs(output_dir)
    if records:
        forecasts = pd.DataFrame(records)
        forecasts["ds"] = pd.to_datetime(forecasts["ds"])
        forecasts = forecasts.rename(columns={"forecast": "median", "lo80": "lo", "hi80": "hi"}).assign(model="ours")
        history = _history(input_path)
        if "unique_id" in history:
            chosen = plot_series or sorted(forecasts["unique_id"].unique())[:max_plots]
            missing = sorted(set(chosen) - set(forecasts["unique_id"]))
            if missing:
                raise DataError(f"no forecast for series {missing}")
            result["plot"] = str(plot_forecasts(history, forecasts, Path(output_dir) / "forecast.png", series=chosen,
                                                title="History, forecast (median) and 80% interval"))
    atomic_write_text(Path(output_dir) / "predict.json", json.dumps(result, indent=2, default=str) + "\n")
    return result


def _history(input_path: str | Path) -> pd.DataFrame:
    """Best-effort history for plots (the forecasts themselves never depend on it)."""
    frames = []
    for file in resolve_inputs(input_path, SUFFIXES):
        try:
            f = read_series_file(file)
            f = f.assign(unique_id=f["unique_id"].astype(str), ds=pd.to_datetime(f["ds"], errors="coerce"),
                         y=pd.to_numeric(f["y"], errors="coerce"))
            frames.append(f[["unique_id", "ds", "y"]])
        except (DataError, KeyError):
            continue
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
