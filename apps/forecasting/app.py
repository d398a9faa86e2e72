"""The forecasting App: global PatchTST/iTransformer forecasters against statsforecast's peers.

Data: the shipped series (statsmodels, pmdarima) or the user's long-format CSV/Parquet
files (``unique_id, ds, y``). Every series keeps its last ``n_windows x horizon`` points
for the held-out backtest and the ``horizon`` before them for validation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shared.app import DataReport, Evaluation, SampleFiles, TrainSummary
from shared.errors import ConfigError, DataError

if TYPE_CHECKING:
    from apps.forecasting.config import ForecastConfig
    from apps.forecasting.predict import ForecastPredictor

USER_SUFFIXES = (".csv", ".parquet")


BASE_MODEL = Path("runs/forecasting/base/best")  # where the base config's recipe puts the base model


def resolve_base(init: str) -> str:
    """``--init``'s model folder: ``base`` is :data:`BASE_MODEL`; anything else is a path."""
    path = BASE_MODEL if init == "base" else Path(init)
    if not (path / "config.json").is_file():
        hint = (" (build it: sextant forecasting train --config base --run runs/forecasting/base)" if init == "base" else "")
        raise ConfigError(f"--init {init}: no model folder at {path}{hint}")
    return str(path)


@dataclass
class ForecastOptions:
    """``sextant forecasting predict``'s options, and the batch flow's."""

    horizon: int | None = field(default=None, metadata={"help": "steps ahead (default: the model's training horizon)"})
    freq: str | None = field(default=None, metadata={"help": "pandas frequency if it cannot be inferred, e.g. MS"})
    season: int | None = field(default=None, metadata={"help": "season length (default: the usual one for the frequency)"})
    series: list[str] | None = field(default=None, metadata={"help": "series to plot (default: the first 6)"})
    format: Literal["parquet", "jsonl"] = field(default="parquet", metadata={"help": "output shard format"})


class ForecastingApp:
    name = "forecasting"
    title = "Time-series forecasting: global transformers with quantile intervals, against statsforecast."
    items = "series"
    stages = ("train",)
    metric, mode = "mase", "min"
    batch_options = ForecastOptions
    data_help = ("a long-format CSV or Parquet file (unique_id, ds, y), or a folder of them; frequency inferred "
                 "(or data.freq), season length from it (or data.season_length), data.horizon steps ahead")
    input_help = "CSV/Parquet files (unique_id, ds, y), folders of them, or manifests listing them"
    examples = (
        "train --data my_series.csv --set data.horizon=6 --run runs/fc-mine  # your own series",
        "evaluate --data my_series.csv --set data.horizon=6 --model runs/fc-mine/best",
        "predict my_series.csv --model runs/fc-mine/best --out forecasts/ --series shop_a",
        "train --config demo --run runs/fc-demo --set train.max_steps=300  # shipped datasets",
        "train --config demo --run runs/fc-demo --resume  # continue a killed run",
        "train --config demo --run runs/fc-ddp --nproc 2  # data-parallel (torchrun)",
        "evaluate --config demo --model runs/fc-demo/best --peers SeasonalNaive --peers AutoETS",
    )
    configs = ("default", "demo", "tiny", "base")
    recipe_modules = ("apps.forecasting.datasets", "apps.forecasting.data", "apps.forecasting.app")

    def load_config(self, name: str = "default", overrides: Sequence[str] = ()) -> ForecastConfig:
        from apps.forecasting.config import load_forecast_config

        return load_forecast_config(name, list(overrides))

    def with_data(self, cfg: ForecastConfig, source: str) -> ForecastConfig:
        """``cfg`` training on the user's long-format file, or every CSV/Parquet file in a folder."""
        from shared.paths import config_path

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

    def prepared_dir(self, cfg: ForecastConfig) -> Path:
        """The cache folder for shipped datasets; a sub-folder keyed on the files (path, size,
        time) and settings when a user's file is among them."""
        from apps.forecasting.data import is_user_file
        from shared.paths import config_path

        user = [e for e in cfg.data.datasets if is_user_file(e)]
        if not user:
            return Path(cfg.data.cache_dir)
        stats = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in (config_path(e, "data.datasets") for e in user)
                 if p.is_file()]
        key = json.dumps([cfg.data.datasets, stats, cfg.data.freq, cfg.data.season_length, cfg.data.fill,
                          cfg.data.horizon, cfg.data.n_windows])
        return Path(cfg.data.cache_dir) / f"user-{hashlib.sha256(key.encode()).hexdigest()[:10]}"

    def is_prepared(self, cfg: ForecastConfig, data: Path) -> bool:
        from apps.forecasting.data import dataset_name

        return all((Path(data) / f"{dataset_name(e)}.json").is_file() for e in cfg.data.datasets)

    def prepare(self, cfg: ForecastConfig, out: Path) -> Path:
        from apps.forecasting.data import prepare

        d = cfg.data
        prepare(d.datasets, out, fill=d.fill, min_length=d.horizon * (d.n_windows + 2), freq=d.freq,
                season_length=d.season_length)
        return Path(out)

    def validate(self, cfg: ForecastConfig, data: Path) -> DataReport:
        from apps.forecasting.data import load_prepared

        reports = {d.name: d.report for d in load_prepared(data, cfg.data.datasets)}
        details = {name: f"{r['series']} series, {r['rows']} rows" + (f"; {'; '.join(r['problems'])}" if r["problems"] else "")
                   for name, r in reports.items()}
        dropped = {k: r["dropped"] for k, r in reports.items() if r["dropped"]}
        if dropped:
            details["dropped"] = json.dumps(dropped)
        return DataReport(items=sum(r["series"] for r in reports.values()),
                          splits={name: r["series"] for name, r in reports.items()}, details=details)

    def train(self, cfg: ForecastConfig, data: Path, run_dir: Path, stage: str = "train", *, resume: bool = False,
              init: str | None = None) -> TrainSummary:
        from apps.forecasting.data import load_prepared
        from apps.forecasting.train import fit

        result = fit(cfg, load_prepared(data, cfg.data.datasets), run_dir, resume=resume,
                     init=None if init is None else resolve_base(init))
        return TrainSummary(str(Path(run_dir) / "best"), result.best_metric, "val_mase", result.step, result.seconds)

    def evaluate(self, cfg: ForecastConfig, model_dir: str, data: Path, out_dir: Path,
                 peers: Sequence[str] | None = None) -> Evaluation:
        """Rolling-origin backtest of ours and the peers on every series' held-out windows."""
        from apps.forecasting.backtest import run_backtest
        from apps.forecasting.data import load_prepared

        result = run_backtest(model_dir, cfg, load_prepared(data, cfg.data.datasets), out_dir,
                              None if peers is None else list(peers))
        rule = (f"the last {cfg.data.n_windows} windows of {cfg.data.horizon} steps of every series (rolling origin); "
                f"validation: the {cfg.data.horizon} steps before them")
        return Evaluation(table=result["table"], ours=result["ours"], metric="mase", mode="min",
                          registry_name=self.registry_name(cfg), best_peer=result["best_peer"], split_rule=rule,
                          artifacts={"metrics_md": str(Path(out_dir) / "metrics.md"), "plot": result["plot"],
                                     "windows": str(Path(out_dir) / "windows.csv")},
                          markdown=(Path(out_dir) / "metrics.md").read_text())

    def predictor(self, model_dir: str, options: ForecastOptions) -> ForecastPredictor:
        from apps.forecasting.predict import ForecastPredictor

        return ForecastPredictor(model_dir, options.horizon, options.freq, options.series, options.format,
                                 season=options.season)

    def registry_name(self, cfg: ForecastConfig) -> str:
        return self.name

    def sample_files(self, folder: Path) -> SampleFiles:
        """Two shipped monthly series written as a user's CSV; to forecast, the same two plus one
        with a repeated timestamp (an error row)."""
        import pandas as pd

        from apps.forecasting.datasets import load_dataset

        folder.mkdir(parents=True, exist_ok=True)
        frame = pd.concat([load_dataset("airpassengers"), load_dataset("wineind")], ignore_index=True)
        frame.to_csv(folder / "sales.csv", index=False)
        broken = frame.head(30).assign(unique_id="broken/duplicate-timestamps")
        broken.loc[broken.index[5], "ds"] = broken["ds"].iloc[4]
        pd.concat([frame, broken], ignore_index=True).to_csv(folder / "incoming.csv", index=False)
        return SampleFiles(str(folder / "sales.csv"), str(folder / "incoming.csv"), ("data.horizon=6",))


APP = ForecastingApp()


def main(argv: list[str] | None = None) -> int:
    """``sextant-forecast``: the same as ``sextant forecasting``."""
    from shared.cli import app_main

    return app_main(APP, argv)
