"""The bare baselines that forecasting models predict a residual over, compared WITHOUT any network
on windows that end before the held-out test windows: the validation window and ``--dev`` windows
of ``horizon`` steps before it, each forecast from the last ``lookback`` values before its cutoff.

No model is trained, so a window before validation is as honest a check as validation itself,
and eight of them per series average out the noise of one 12-step window. It suggested
``model.profile_min_seasons=1``; the trained models' validation windows then chose 2
(``forecasting_profile_min1.md``): a bare baseline's ranking need not carry over to the residual
model trained on top of it.

    python benchmarks/forecasting_baselines.py                 # the seven shipped datasets
    python benchmarks/forecasting_baselines.py --dev 4 --lookback 64 128

Writes ``benchmarks/results/forecasting_baselines.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.forecasting.app import APP  # noqa: E402
from apps.forecasting.data import load_prepared  # noqa: E402
from apps.forecasting.metrics import score_forecasts  # noqa: E402
from apps.forecasting.model import seasonal_naive, seasonal_profile_naive  # noqa: E402
from apps.forecasting.train import split_series  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def baselines(context: np.ndarray, season: int, horizon: int, lookbacks: list[int]) -> dict[str, np.ndarray]:
    """Every compared baseline's forecast from one series' values before a cutoff."""
    out = {}
    for lookback in lookbacks:
        values = torch.tensor(context[-lookback:], dtype=torch.float64)[None]
        observed = torch.ones_like(values, dtype=torch.bool)
        s = torch.tensor([season])
        out["naive"] = seasonal_naive(values, observed, None, horizon)[0].numpy()
        out[f"seasonal naive, lookback {lookback}"] = seasonal_naive(values, observed, s, horizon)[0].numpy()
        for seasons in (1, 2):
            out[f"profile, lookback {lookback}, min seasons {seasons}"] = seasonal_profile_naive(
                values, observed, s, horizon, min_seasons=seasons)[0].numpy()
    return out


def run(datasets: list[str], dev: int, lookbacks: list[int], work: Path) -> pd.DataFrame:
    """Per-window MASE of every baseline; ``window`` is ``valid`` or ``dev``."""
    cfg = APP.load_config("default", [f"data.datasets=[{','.join(datasets)}]"])
    data_dir = APP.prepare(cfg, work / "data")
    h = cfg.data.horizon
    forecasts, history = [], []
    for s in split_series(load_prepared(data_dir, datasets), h, cfg.data.n_windows):
        history.append(pd.DataFrame({"dataset": s.dataset, "unique_id": s.unique_id, "ds": np.arange(s.train_end),
                                     "y": s.values[: s.train_end]}))
        for back in range(dev + 1):
            end = s.train_end - back * h
            if end < 2 * h:
                break
            for name, pred in baselines(s.values[:end], s.season_length, h, lookbacks).items():
                forecasts.append(pd.DataFrame({
                    "dataset": s.dataset, "unique_id": s.unique_id, "cutoff": end - 1, "ds": np.arange(end, end + h),
                    "y": s.values[end : end + h], "model": name, "median": pred, "lo": pred, "hi": pred}))
    seasons = {d.name: d.season_length for d in load_prepared(data_dir, datasets)}
    windows = score_forecasts(pd.concat(forecasts, ignore_index=True), pd.concat(history, ignore_index=True), seasons)
    last = windows.groupby(["dataset", "unique_id"])["cutoff"].transform("max")
    return windows.assign(window=np.where(windows["cutoff"] == last, "valid", "dev"))


def report(windows: pd.DataFrame, dev: int) -> tuple[dict, str]:
    table = windows.groupby(["window", "model", "dataset"])["mase"].mean().unstack("dataset")
    table["mean"] = table.mean(axis=1)
    datasets = [c for c in table.columns if c != "mean"]
    lines = ["## Forecasting baselines without a network (MASE, lower is better)", "",
             f"Each series' validation window and up to {dev} `dev` windows of `horizon` steps before it; "
             "the held-out test windows are never read. Means over windows, then datasets.", ""]
    result = {}
    for window, title in (("dev", f"dev windows (up to {dev} per series)"), ("valid", "validation window")):
        part = table.loc[window].sort_values("mean")
        result[window] = {m: {k: float(v) for k, v in row.items()} for m, row in part.iterrows()}
        lines += [f"### {title}", "", "| baseline | " + " | ".join(datasets) + " | mean |",
                  "|---|" + "---:|" * (len(datasets) + 1)]
        lines += [f"| {m} | " + " | ".join(f"{row[d]:.3f}" for d in datasets) + f" | **{row['mean']:.3f}** |"
                  for m, row in part.iterrows()]
        lines.append("")
    return result, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="*", default=list(APP.load_config("default").data.datasets))
    parser.add_argument("--dev", type=int, default=8, help="windows before the validation window, per series")
    parser.add_argument("--lookback", type=int, nargs="*", default=[64, 128])
    parser.add_argument("--work", type=Path, default=Path("runs/bench/forecasting_baselines"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    windows = run(args.datasets, args.dev, args.lookback, args.work)
    result, markdown = report(windows, args.dev)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "forecasting_baselines.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "forecasting_baselines.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
