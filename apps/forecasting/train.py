"""Train one global model across every series of the chosen datasets.

Each series is split by time: the last ``n_windows * horizon`` points are
the held-out backtest (never seen in training), and the ``horizon`` points
before them are the validation window used for early stopping and the best
checkpoint. Training windows end before that.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from apps.forecasting.config import ForecastConfig
from apps.forecasting.data import PreparedDataset
from apps.forecasting.metrics import score_forecasts
from apps.forecasting.model import ForecastModelConfig, build_model, pinball_loss
from apps.forecasting.predict import forecast_series
from apps.forecasting.pretrain import PretrainWindows, corpus_series, synthetic_pool
from apps.forecasting.windows import PanelWindows, SeriesWindows, collate_panels
from shared.atomic import atomic_write_text
from shared.config import config_to_dict
from shared.errors import ConfigError, DataError
from shared.model_folder import load_model, save_model
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


def validation_scores(model: torch.nn.Module, cfg: ForecastConfig, series: list[SplitSeries]) -> pd.Series:
    """Each dataset's mean MASE of the median forecast on the validation window (the ``horizon``
    steps before the held-out windows), indexed by dataset."""
    median, h = cfg.model.quantiles.index(0.5), cfg.data.horizon
    forecasts, history = [], []
    groups = _panels(series) if cfg.model.kind == "itransformer" else [[s] for s in series]
    for group in groups:
        preds = forecast_series(model, cfg.model, [s.values[: s.train_end] for s in group], h,
                                [s.season_length for s in group])
        for s, pred in zip(group, preds):
            end = s.train_end
            forecasts.append(pd.DataFrame({"dataset": s.dataset, "unique_id": s.unique_id, "cutoff": end - 1,
                                           "ds": np.arange(end, end + h), "y": s.values[end : end + h], "model": "ours",
                                           "median": pred[:, median], "lo": pred[:, median], "hi": pred[:, median]}))
            history.append(pd.DataFrame({"dataset": s.dataset, "unique_id": s.unique_id, "ds": np.arange(end),
                                         "y": s.values[:end]}))
    windows = score_forecasts(pd.concat(forecasts, ignore_index=True), pd.concat(history, ignore_index=True),
                              {s.dataset: s.season_length for s in series})
    return windows.groupby("dataset")["mase"].mean()


def validation_mase(model: torch.nn.Module, cfg: ForecastConfig, series: list[SplitSeries]) -> dict[str, float]:
    """Mean (over datasets) MASE of the median forecast on the validation window."""
    return {"val_mase": float(validation_scores(model, cfg, series).mean())}


def _panels(series: list[SplitSeries]) -> list[list[SplitSeries]]:
    """Series grouped by dataset (aligned panels for iTransformer)."""
    groups: dict[str, list[SplitSeries]] = {}
    for s in series:
        groups.setdefault(s.dataset, []).append(s)
    return list(groups.values())


def _loss(model: torch.nn.Module, batch: dict, quantiles: list[float]) -> torch.Tensor:
    if "variate_mask" in batch:
        out, mean, std = model(batch["context"], batch["observed"], variate_mask=batch["variate_mask"],
                               season=batch["season"])
        mask = batch["target_mask"] & ~batch["variate_mask"].unsqueeze(-1)
    else:
        out, mean, std = model(batch["context"], batch["observed"], season=batch["season"])
        mask = batch["target_mask"]
    target = (batch["target"] - mean) / std
    return pinball_loss(out, target, quantiles, mask)


def base_start(cfg: ForecastConfig, init: str | Path) -> tuple[ForecastConfig, dict[str, torch.Tensor]]:
    """``cfg`` with the architecture of the base model folder ``init``, and its weights (fine-tuning
    starts from them; ``model.members`` and the rest of ``cfg`` stay the caller's)."""
    loaded = load_model(init)
    base = loaded.model
    if not isinstance(getattr(base, "cfg", None), ForecastModelConfig) or base.cfg.members != 1:
        raise ConfigError(f"--init {init}: not a single forecasting model (a base model from the base config)")
    if cfg.data.horizon > base.cfg.max_horizon:
        raise ConfigError(f"--init {init}: horizon {cfg.data.horizon} exceeds the base model's max_horizon {base.cfg.max_horizon}")
    model_cfg = replace(base.cfg, members=cfg.model.members)
    return replace(cfg, model=model_cfg, pretrain=replace(cfg.pretrain, enabled=False)), base.state_dict()


def fit(cfg: ForecastConfig, datasets: list[PreparedDataset], out_dir: str | Path, resume: bool = False,
        init: str | Path | None = None) -> TrainResult:
    """Train the configured model; the best checkpoint is ``out_dir/best`` (a model folder).

    With ``model.members > 1`` each member trains in ``out_dir/member-K`` with
    seed ``train.seed + K`` (finished members are skipped on resume), and the
    ensemble of their best checkpoints is saved as ``out_dir/best``. With ``init`` (a base
    model folder) every member starts from its weights and architecture (fine-tuning).
    """
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    start = None
    if init is not None:
        cfg, start = base_start(cfg, init)
    series = split_series(datasets, cfg.data.horizon, cfg.data.n_windows)
    if cfg.model.members == 1:
        return _fit_single(cfg, series, Path(out_dir), resume, start)
    out_dir = Path(out_dir)
    single = replace(cfg, model=replace(cfg.model, members=1))
    results = []
    for k in range(cfg.model.members):
        member_cfg = replace(single, train=replace(cfg.train, seed=cfg.train.seed + k))
        member_dir = out_dir / f"member-{k}"
        done = member_dir / "done.json"
        if resume and done.is_file():
            results.append(TrainResult(**{**json.loads(done.read_text()), "best_dir": member_dir / "best", "last_dir": None}))
            continue
        result = _fit_single(member_cfg, series, member_dir, resume, start)
        atomic_write_text(done, json.dumps({k: v for k, v in asdict(result).items() if k not in ("best_dir", "last_dir")}))
        results.append(result)
    ensemble = build_model(cfg.model)
    for member, result in zip(ensemble.members, results):
        member.load_state_dict(load_model(result.best_dir).model.state_dict())
    val = validation_mase(ensemble, cfg, series)["val_mase"]
    save_model(out_dir / "best", ensemble, "forecasting", config_to_dict(cfg.model),
               metadata={"datasets": cfg.data.datasets, "horizon": cfg.data.horizon, "n_windows": cfg.data.n_windows,
                         "members_val_mase": [r.best_metric for r in results], "val_mase": val})
    seconds = sum(r.seconds for r in results)
    return TrainResult(step=sum(r.step for r in results), final_loss=float(np.mean([r.final_loss for r in results])),
                       best_metric=val, best_dir=out_dir / "best", last_dir=None, history=[],
                       stopped_early=all(r.stopped_early for r in results), seconds=seconds,
                       samples_per_second=sum(r.samples_per_second * r.seconds for r in results) / max(seconds, 1e-9))


def _fit_single(cfg: ForecastConfig, series: list[SplitSeries], out_dir: Path, resume: bool,
                start: dict[str, torch.Tensor] | None = None) -> TrainResult:
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model)
    if start is not None:
        model.load_state_dict(start)  # a resumed run then loads its own checkpoint over it
    m = cfg.model
    if m.kind == "itransformer":
        groups = _panels(series)
        panels = [np.stack([s.values[: s.train_end] for s in group]) for group in groups]
        train_data = PanelWindows(panels, m.lookback, m.max_horizon, cfg.windows, cfg.train.seed,
                                  seasons=[group[0].season_length for group in groups])
        collate = collate_panels
    elif cfg.pretrain.enabled:
        by_dataset: dict[str, list] = {}
        for s in series:
            by_dataset.setdefault(s.dataset, []).append((s.values[: s.train_end], s.season_length))
        train_data = PretrainWindows(by_dataset, corpus_series(cfg.pretrain.corpus),
                                     synthetic_pool(cfg.train.seed, cfg.pretrain.synthetic_series, cfg.pretrain.synthetic_length),
                                     cfg.pretrain, m.lookback, m.max_horizon, cfg.windows, cfg.train.seed)
        collate = None
    else:
        sizes = {d: sum(1 for s in series if s.dataset == d) for d in {s.dataset for s in series}}
        weights = [1.0 / sizes[s.dataset] for s in series] if cfg.sampling == "dataset" else None
        train_data = SeriesWindows([s.values[: s.train_end] for s in series], m.lookback, m.max_horizon, cfg.windows,
                                   cfg.train.seed, weights=weights, seasons=[s.season_length for s in series])
        collate = None
    trainer = Trainer(
        model, cfg.train, out_dir,
        loss_fn=lambda mdl, batch: _loss(mdl, batch, m.quantiles),
        builder="forecasting", model_config=config_to_dict(m),
        eval_fn=lambda mdl: validation_mase(mdl, cfg, series), collate_fn=collate,
        metadata={"datasets": cfg.data.datasets, "horizon": cfg.data.horizon, "n_windows": cfg.data.n_windows},
    )
    return trainer.fit(train_data, resume=resume)
