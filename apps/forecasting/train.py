"""Train one global model across every series of the chosen datasets.

Each series is split by time: the last ``n_windows * horizon`` points are
the held-out backtest (never seen in training), and the ``horizon`` points
before them are the validation window used for early stopping and the best
checkpoint. Training windows end before that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from apps.forecasting.config import ForecastConfig
from apps.forecasting.data import PreparedDataset
from apps.forecasting.forecast import forecast_series
from apps.forecasting.metrics import mase_scale
from apps.forecasting.model import ITransformer, build_model, pinball_loss
from apps.forecasting.windows import PanelWindows, SeriesWindows, collate_panels
from shared.config import config_to_dict
from shared.errors import DataError
from shared.training import Trainer, TrainResult, seed_everything


@dataclass
class SplitSeries:
    """One series cut for training, validation and the held-out backtest."""

    dataset: str
    unique_id: str
    values: np.ndarray
    season_length: int
    train_end: int  # training windows see values[:train_end]
    test_start: int  # first held-out point


def split_series(datasets: list[PreparedDataset], horizon: int, n_windows: int) -> list[SplitSeries]:
    """Time splits for every series; series too short for one training window are refused."""
    out = []
    for ds in datasets:
        for uid, frame in ds.frame().groupby("unique_id", sort=True):
            values = frame.sort_values("ds")["y"].to_numpy(dtype=np.float32)
            test_start = len(values) - horizon * n_windows
            train_end = test_start - horizon
            if train_end < 2 * horizon:
                raise DataError(f"{uid}: {len(values)} points is too short for {n_windows} windows of {horizon} plus training")
            out.append(SplitSeries(ds.name, str(uid), values, ds.season_length, train_end, test_start))
    return out


def validation_mase(model: torch.nn.Module, cfg: ForecastConfig, series: list[SplitSeries]) -> dict[str, float]:
    """Mean (over datasets) MASE of the median forecast on the validation window."""
    median = cfg.model.quantiles.index(0.5)
    by_dataset: dict[str, list[float]] = {}
    groups = _panels(series) if cfg.model.kind == "itransformer" else [[s] for s in series]
    for group in groups:
        preds = forecast_series(model, cfg.model, [s.values[: s.train_end] for s in group], cfg.data.horizon)
        for s, pred in zip(group, preds):
            actual = s.values[s.train_end : s.train_end + cfg.data.horizon]
            scale = mase_scale(s.values[: s.train_end], s.season_length)
            by_dataset.setdefault(s.dataset, []).append(float(np.mean(np.abs(actual - pred[:, median]))) / scale)
    return {"val_mase": float(np.mean([np.nanmean(v) for v in by_dataset.values()]))}


def _panels(series: list[SplitSeries]) -> list[list[SplitSeries]]:
    """Series grouped by dataset (aligned panels for iTransformer)."""
    groups: dict[str, list[SplitSeries]] = {}
    for s in series:
        groups.setdefault(s.dataset, []).append(s)
    return list(groups.values())


def _loss(model: torch.nn.Module, batch: dict, quantiles: list[float]) -> torch.Tensor:
    if isinstance(model, ITransformer):
        out, mean, std = model(batch["context"], batch["observed"], batch["variate_mask"])
        mask = batch["target_mask"] & ~batch["variate_mask"].unsqueeze(-1)
    else:
        out, mean, std = model(batch["context"], batch["observed"])
        mask = batch["target_mask"]
    target = (batch["target"] - mean) / std
    return pinball_loss(out, target, quantiles, mask)


def fit(cfg: ForecastConfig, datasets: list[PreparedDataset], out_dir: str | Path, resume: bool = False) -> TrainResult:
    """Train the configured model; the best checkpoint is ``out_dir/best`` (a model folder)."""
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    series = split_series(datasets, cfg.data.horizon, cfg.data.n_windows)
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model)
    m = cfg.model
    if m.kind == "itransformer":
        panels = [np.stack([s.values[: s.train_end] for s in group]) for group in _panels(series)]
        train_data = PanelWindows(panels, m.lookback, m.max_horizon, cfg.windows, cfg.train.seed)
        collate = collate_panels
    else:
        train_data = SeriesWindows([s.values[: s.train_end] for s in series], m.lookback, m.max_horizon, cfg.windows, cfg.train.seed)
        collate = None
    trainer = Trainer(
        model, cfg.train, out_dir,
        loss_fn=lambda mdl, batch: _loss(mdl, batch, m.quantiles),
        builder="forecasting", model_config=config_to_dict(m),
        eval_fn=lambda mdl: validation_mase(mdl, cfg, series), collate_fn=collate,
        metadata={"datasets": cfg.data.datasets, "horizon": cfg.data.horizon, "n_windows": cfg.data.n_windows},
    )
    return trainer.fit(train_data, resume=resume)
