"""Batch forecasting on the shared batch-inference contract.

Input: a CSV/Parquet file in long format (``unique_id, ds, y``), a folder of
them, or a manifest listing them. Each series is one row: bad series (and
unreadable files) become error rows with a reason while the rest are
forecast. Output shards hold one record per series and horizon step.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from apps.forecasting.data import read_series_file, validate
from apps.forecasting.forecast import forecast_series
from shared.errors import DataError
from shared.inference import InferenceSummary, InputRow, RowError, resolve_inputs, run_batch_inference
from shared.model_folder import LoadedModel

SUFFIXES = (".csv", ".parquet")


def read_rows(path: str | Path, freq: str | None = None, min_length: int = 8) -> Iterator[InputRow]:
    """One :class:`InputRow` per series, in file then ``unique_id`` order."""
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
                                                      "last": series["ds"].iloc[-1], "freq": step})


def make_predict_fn(loaded: LoadedModel, horizon: int):
    """The batch predict function: forecasts every row, one record per step."""
    cfg = loaded.model.cfg
    names = [f"q{round(q * 100):02d}" for q in cfg.quantiles]
    mid, lo, hi = cfg.quantiles.index(0.5), 0, len(cfg.quantiles) - 1

    def predict(rows: list[InputRow]) -> list[list[dict] | RowError]:
        preds = forecast_series(loaded.model, cfg, [r.payload["values"] for r in rows], horizon)
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


def batch_forecast(loaded: LoadedModel, input_path: str | Path, output_dir: str | Path, horizon: int | None = None,
                   freq: str | None = None, shard_size: int = 256, fmt: str = "parquet", progress: bool = True) -> InferenceSummary:
    """Forecast every series under ``input_path`` into shards in ``output_dir`` (resumable)."""
    horizon = horizon or int(loaded.metadata.get("horizon", loaded.model.cfg.max_horizon))
    if horizon > loaded.model.cfg.max_horizon:
        raise DataError(f"horizon {horizon} exceeds the model's max_horizon {loaded.model.cfg.max_horizon}")
    return run_batch_inference(read_rows(input_path, freq), make_predict_fn(loaded, horizon), output_dir,
                               shard_size=shard_size, fmt=fmt, progress=progress)
