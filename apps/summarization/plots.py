"""A PNG bar chart: ROUGE-L of ours and every peer, per test set."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PEER_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")
SET_LABELS = {"test": "Debian test split", "abstracts": "abstract -> title", "wikipedia": "Wikipedia body -> lead"}


def rouge_bars_png(table: list[dict], metric: str = "rougeL", labels: dict[str, str] | None = None) -> bytes:
    """Grouped bars (one group per test set, one bar per model) of ``metric`` from the metrics table;
    ``labels`` names the sets (default: :data:`SET_LABELS`)."""
    labels = {**SET_LABELS, **(labels or {})}
    sets = list(dict.fromkeys(r["set"] for r in table))
    models = list(dict.fromkeys(r["model"] for r in table))
    value = {(r["set"], r["model"]): r[metric] for r in table}
    width = 0.8 / len(models)
    fig_width = 2.2 + 1.6 * len(sets) * max(1, len(models) / 4)
    fig, ax = plt.subplots(figsize=(fig_width, 3.6))
    for k, model in enumerate(models):
        xs = [i + (k - (len(models) - 1) / 2) * width for i in range(len(sets))]
        ys = [value.get((s, model), 0.0) for s in sets]
        colour = "black" if model == "ours" else PEER_COLOURS[k % len(PEER_COLOURS)]
        bars = ax.bar(xs, ys, width, label=model, color=colour)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(sets)), [labels.get(x, x) for x in sets])
    ax.set_ylabel(f"{metric} F1 (x100)")
    ax.set_title(f"{metric} per test set: ours and the peers (higher is better)", fontsize=10)
    ax.legend(fontsize=8, ncol=min(len(models), 6, max(2, int(fig_width // 1.2))), loc="upper center",
              bbox_to_anchor=(0.5, -0.12))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # the legend below the axes included
    plt.close(fig)
    return buf.getvalue()
