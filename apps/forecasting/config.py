"""The forecasting app's typed config, loaded from ``configs/<name>.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from apps.forecasting.data import FillPolicy
from apps.forecasting.datasets import DATASETS
from apps.forecasting.model import ForecastModelConfig
from apps.forecasting.pretrain import PretrainConfig
from shared.config import check_names, config_file, load_config
from shared.training import TrainConfig

CONFIG_DIR = Path(__file__).parent / "configs"
PEERS = ("AutoARIMA", "AutoETS", "AutoTheta", "SeasonalNaive")


@dataclass
class DataConfig:
    """Which series, how far ahead, and how many held-out windows.

    ``datasets`` entries are shipped names or the user's long-format files (``.csv`` or
    ``.parquet`` with ``unique_id, ds, y``). ``freq`` and ``season_length`` override every
    dataset's; a user file's are otherwise inferred (the season from the frequency).
    """

    datasets: list[str] = field(default_factory=lambda: list(DATASETS))
    horizon: int = 12
    n_windows: int = 2
    fill: FillPolicy = "interpolate"
    freq: str | None = None
    season_length: int | None = None
    cache_dir: str = "data/cache/forecasting"


@dataclass
class ForecastConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ForecastModelConfig = field(default_factory=ForecastModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    windows: int = 20000
    # How training windows are drawn: every dataset equally often ("dataset"), or
    # every series equally often ("series": a dataset of six series gets 6x the windows).
    sampling: Literal["dataset", "series"] = "dataset"
    peers: list[str] = field(default_factory=lambda: list(PEERS))
    # AutoARIMA's seasonal order search is impractically slow for long seasons here
    # (season 48: no result in 11 min on 4,032 points, nor in 150 s on 360 points),
    # so it is skipped (shown as n/a) on datasets with a longer season than this.
    arima_max_season: int = 24
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    def __post_init__(self) -> None:
        if self.pretrain.enabled and self.model.kind != "patchtst":
            raise ValueError("pretraining (pretrain.enabled) needs model.kind patchtst: an iTransformer's panels are dataset-specific")
        if self.data.horizon > self.model.max_horizon:
            raise ValueError(f"horizon {self.data.horizon} exceeds the model's max_horizon {self.model.max_horizon}")
        check_names(self.peers, PEERS, "peer")


def load_forecast_config(name_or_path: str = "default", overrides: list[str] | None = None) -> ForecastConfig:
    """``default``, ``demo``, ``tiny`` or ``base`` (shipped configs), or a path to a YAML file."""
    return load_config(ForecastConfig, config_file(name_or_path, CONFIG_DIR), overrides)
