"""Forecasting with a trained model, one series or a batch job on the shared batch-inference contract.

Input: a CSV/Parquet file in long format (``unique_id, ds, y``), a folder of
them, or a manifest listing them. Each series is one row: bad series (and
unreadable files) become error rows with a reason while the rest are
forecast. Output shards hold one record per series and horizon step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from apps.forecasting.data import read_series_file, season_for, validate
from apps.forecasting.model import ForecastModelConfig, denormalise
from apps.forecasting.plots import plot_forecasts
from apps.forecasting.windows import context_window
from shared.errors import DataError
from shared.inference import InferenceSummary, InputRow, RowError, read_outputs, resolve_inputs
from shared.model_folder import LoadedModel, load_model

SUFFIXES = (".csv", ".parquet")


@torch.no_grad()
def forecast_series(model: nn.Module, cfg: ForecastModelConfig, histories: list[np.ndarray], horizon: int,
                    seasons: list[int] | None = None, batch_size: int = 256) -> np.ndarray:
    """``[N, horizon, Q]`` quantile forecasts for univariate histories (PatchTST), or for the
    histories taken together as one panel (iTransformer, which reads the first season).
    ``seasons``: each history's season length (1, or none given: no seasonal baseline)."""
    if horizon > cfg.max_horizon:
        raise ValueError(f"horizon {horizon} exceeds the model's max_horizon {cfg.max_horizon}")
    model.eval()
    windows = [context_window(np.asarray(h, dtype=np.float32), len(h), cfg.lookback) for h in histories]
    context = torch.tensor(np.stack([c for c, _ in windows]))
    observed = torch.tensor(np.stack([s for _, s in windows]))
    season = torch.tensor(seasons if seasons is not None else [1] * len(histories), dtype=torch.long)
    if cfg.kind == "itransformer":
        out, mean, std = model(context[None], observed[None], season=season[:1])
        result = denormalise(out, mean, std)[0]
    else:
        parts = []
        for start in range(0, len(histories), batch_size):
            chunk = slice(start, start + batch_size)
            out, mean, std = model(context[chunk], observed[chunk], season=season[chunk])
            parts.append(denormalise(out, mean, std))
        result = torch.cat(parts)
    # Quantile heads can cross; sorting restores a valid (monotone) set per step.
    return result[:, :horizon].sort(dim=-1).values.numpy()


def quantile_columns(quantiles: list[float]) -> tuple[int, int, int]:
    """Indices of the median and of the outermost quantiles (the interval)."""
    return quantiles.index(0.5), 0, len(quantiles) - 1


def row_season(step: str | pd.Timedelta) -> int:
    """The usual season of a series' step (1, no seasonal baseline, for a step without one)."""
    try:
        return season_for(step if isinstance(step, str) else pd.tseries.frequencies.to_offset(step).freqstr)
    except (DataError, ValueError):
        return 1


def read_rows(path: str | Path, freq: str | None = None, min_length: int = 8,
              season: int | None = None) -> Iterator[InputRow]:
    """One :class:`InputRow` per series, in file then ``unique_id`` order; ``season`` (default: the
    usual one for each series' frequency) is what a seasonal model's baseline repeats."""
    files = resolve_inputs(path, SUFFIXES)
    for file in files:
        prefix = f"{file.stem}:" if len(files) > 1 else ""
        if not file.is_file():
            yield InputRow(f"{prefix}<file>", error=f"{file}: file not found")
            continue
        try:
            frame, report = validate(read_series_file(file), freq=freq, fill="interpolate", duplicates="refuse", min_length=min_length)
        except DataError as err:
            message = str(err) if str(file) in str(err) else f"{file.name}: {err}"  # name the file once
            yield InputRow(f"{prefix}<file>", error=message)
            continue
        for uid, reason in report.dropped.items():
            yield InputRow(f"{prefix}{uid}", error=reason)
        for uid, series in frame.groupby("unique_id", sort=True):
            series = series.sort_values("ds")
            step = freq or pd.infer_freq(series["ds"]) or (series["ds"].iloc[-1] - series["ds"].iloc[-2])
            yield InputRow(f"{prefix}{uid}", payload={"unique_id": uid, "values": series["y"].to_numpy(np.float32),
                                                      "last": series["ds"].iloc[-1], "freq": step,
                                                      "season": season or row_season(step)})


def make_predict_fn(loaded: LoadedModel, horizon: int):
    """The batch predict function: forecasts every row, one record per step."""
    cfg = loaded.model.cfg
    names = [f"q{round(q * 100):02d}" for q in cfg.quantiles]
    mid, lo, hi = cfg.quantiles.index(0.5), 0, len(cfg.quantiles) - 1

    def predict(rows: list[InputRow]) -> list[list[dict] | RowError]:
        preds = forecast_series(loaded.model, cfg, [r.payload["values"] for r in rows], horizon,
                                [r.payload["season"] for r in rows])
        results: list[list[dict] | RowError] = []
        for row, pred in zip(rows, preds):
            if not np.isfinite(pred).all():
                results.append(RowError("forecast is not finite (check the series' scale)"))
                continue
            future = pd.date_range(row.payload["last"], periods=horizon + 1, freq=row.payload["freq"])[1:]
            results.append([
                {"row_id": row.row_id, "unique_id": row.payload["unique_id"], "ds": str(ds), "step": i + 1,
                 "forecast": float(pred[i, mid]), "lo80": float(pred[i, lo]), "hi80": float(pred[i, hi]),
                 **{n: float(pred[i, j]) for j, n in enumerate(names)}}
                for i, ds in enumerate(future)
            ])
        return results

    return predict


class ForecastPredictor:
    """The batch job of ``sextant forecasting predict``: one row per series, one record per
    step; ``finish`` plots history, median and 80% interval of a few series."""

    fmt: str
    shard_size = 256
    batch_size = 32

    def __init__(self, model_dir: str | Path, horizon: int | None = None, freq: str | None = None,
                 series: Sequence[str] | None = None, fmt: str = "parquet", max_plots: int = 6,
                 season: int | None = None):
        self.loaded = load_model(model_dir)
        cfg = self.loaded.model.cfg
        self.horizon = horizon or int(self.loaded.metadata.get("horizon", cfg.max_horizon))
        if self.horizon > cfg.max_horizon:
            raise DataError(f"horizon {self.horizon} exceeds the model's max_horizon {cfg.max_horizon}")
        self.freq, self.series, self.fmt, self.max_plots, self.season = freq, list(series or []), fmt, max_plots, season
        self.inputs: list[str] = []
        self.predict = make_predict_fn(self.loaded, self.horizon)

    def rows(self, inputs: Sequence[str]) -> Iterator[InputRow]:
        self.inputs = list(inputs)
        for path in inputs:
            yield from read_rows(path, self.freq, season=self.season)

    def finish(self, out_dir: Path, summary: InferenceSummary) -> dict[str, str]:
        records = read_outputs(out_dir)
        history = pd.concat([_history(path) for path in self.inputs], ignore_index=True) if self.inputs else pd.DataFrame()
        if not records or "unique_id" not in history:
            return {}
        forecasts = pd.DataFrame(records)
        forecasts["ds"] = pd.to_datetime(forecasts["ds"])
        forecasts = forecasts.rename(columns={"forecast": "median", "lo80": "lo", "hi80": "hi"}).assign(model="ours")
        chosen = self.series or sorted(forecasts["unique_id"].unique())[: self.max_plots]
        missing = sorted(set(chosen) - set(forecasts["unique_id"]))
        if missing:
            raise DataError(f"no forecast for series {missing}")
        plot = plot_forecasts(history, forecasts, out_dir / "forecast.png", series=chosen,
                              title="History, forecast (median) and 80% interval")
        return {"plot": str(plot)}


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
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["unique_id", "ds", "y"])
