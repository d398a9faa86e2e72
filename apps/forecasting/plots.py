"""PNG plots: history, forecast median and 80% interval (and actuals when known)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plot_forecasts(history: pd.DataFrame, forecasts: pd.DataFrame, path: str | Path, series: list[str] | None = None,
                   models: list[str] | None = None, tail: int = 96, title: str = "") -> Path:
    """One panel per series. ``history``: ``unique_id, ds, y``; ``forecasts``:
    ``unique_id, ds, model, median, lo, hi`` (and ``y`` for backtests)."""
    ids = series or sorted(forecasts["unique_id"].unique())
    models = models or sorted(forecasts["model"].unique())
    fig, axes = plt.subplots(len(ids), 1, figsize=(10, 2.6 * len(ids)), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, uid in zip(axes[:, 0], ids):
        fc = forecasts[forecasts["unique_id"] == uid]
        hist = history[history["unique_id"] == uid].sort_values("ds")
        first = fc["ds"].min()
        shown = pd.concat([hist[hist["ds"] < first].tail(tail), hist[hist["ds"] >= first]])
        ax.plot(shown["ds"], shown["y"], color="black", linewidth=1.2, label="actual")
        for colour, model in zip(colours, models):
            m = fc[fc["model"] == model].sort_values("ds")
            for _, window in m.groupby("cutoff") if "cutoff" in m else [(None, m)]:
                ax.plot(window["ds"], window["median"], color=colour, linewidth=1.4)
                ax.fill_between(window["ds"], window["lo"], window["hi"], color=colour, alpha=0.18)
            ax.plot([], [], color=colour, label=f"{model} (median, 80% interval)")
        ax.set_title(uid, fontsize=10, loc="left")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
