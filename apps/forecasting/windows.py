"""Training windows cut from series: left-padded contexts and masked targets.

A window ends its context at position ``t`` of a series and asks for the
next ``max_horizon`` values; near the end of the training span the target
is shorter and masked. Series are sampled by weight (then positions), so a
4,000-point series does not drown a 144-point one, and with per-dataset
weights a dataset of six series does not drown a dataset of one. For iTransformer the unit
is a *panel*: all series of one dataset aligned on ``ds``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset


def context_window(values: np.ndarray, end: int, lookback: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``lookback`` values before ``end``, left-padded with zeros, and their observed mask."""
    start = max(0, end - lookback)
    ctx = np.zeros(lookback, dtype=np.float32)
    seen = np.zeros(lookback, dtype=bool)
    chunk = values[start:end]
    if len(chunk):
        ctx[-len(chunk):] = chunk
        seen[-len(chunk):] = True
    return ctx, seen


def target_window(values: np.ndarray, start: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``horizon`` values from ``start``, right-padded, and their mask."""
    tgt = np.zeros(horizon, dtype=np.float32)
    mask = np.zeros(horizon, dtype=bool)
    chunk = values[start : start + horizon]
    tgt[: len(chunk)] = chunk
    mask[: len(chunk)] = True
    return tgt, mask


def window_item(values: np.ndarray, end: int, lookback: int, horizon: int, season: int) -> dict[str, Tensor]:
    """One training example: the context ending at ``end``, the target after it, and the season."""
    ctx, seen = context_window(values, end, lookback)
    tgt, mask = target_window(values, end, horizon)
    return {"context": torch.from_numpy(ctx), "observed": torch.from_numpy(seen), "target": torch.from_numpy(tgt),
            "target_mask": torch.from_numpy(mask), "season": torch.tensor(season)}


def _positions(length: int, min_context: int) -> np.ndarray:
    """Valid context ends: at least ``min_context`` observed points and one target point."""
    return np.arange(min(min_context, length - 1), length)


class SeriesWindows(Dataset):
    """``count`` windows drawn (seeded) from univariate series."""

    def __init__(self, series: list[np.ndarray], lookback: int, horizon: int, count: int, seed: int = 0,
                 min_context: int = 8, weights: list[float] | None = None, seasons: list[int] | None = None):
        self.series, self.lookback, self.horizon = series, lookback, horizon
        self.seasons = seasons or [1] * len(series)
        usable = [i for i, s in enumerate(series) if len(s) > 1]
        if not usable:
            raise ValueError("no series long enough to cut training windows")
        rng = np.random.default_rng(seed)
        p = None
        if weights is not None:
            p = np.array([weights[i] for i in usable], dtype=float)
            p /= p.sum()
        picks = rng.choice(usable, size=count, p=p)
        self.items = [(int(i), int(rng.choice(_positions(len(series[i]), min_context)))) for i in picks]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        i, t = self.items[index]
        return window_item(self.series[i], t, self.lookback, self.horizon, self.seasons[i])


class PanelWindows(Dataset):
    """``count`` windows of aligned panels ``[V, T]`` (one panel per dataset)."""

    def __init__(self, panels: list[np.ndarray], lookback: int, horizon: int, count: int, seed: int = 0, min_context: int = 8,
                 seasons: list[int] | None = None):
        self.panels, self.lookback, self.horizon = panels, lookback, horizon
        self.seasons = seasons or [1] * len(panels)
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(panels), size=count)
        self.items = [(int(p), int(rng.choice(_positions(panels[p].shape[1], min_context)))) for p in picks]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        p, t = self.items[index]
        rows = [(context_window(v, t, self.lookback), target_window(v, t, self.horizon)) for v in self.panels[p]]
        return {
            "context": torch.tensor(np.stack([c for (c, _), _ in rows])),
            "observed": torch.tensor(np.stack([s for (_, s), _ in rows])),
            "target": torch.tensor(np.stack([g for _, (g, _) in rows])),
            "target_mask": torch.tensor(np.stack([m for _, (_, m) in rows])),
            "season": torch.tensor(self.seasons[p]),
        }


def collate_panels(items: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """Pad panels to the widest in the batch; ``variate_mask`` marks padding variates."""
    width = max(item["context"].shape[0] for item in items)
    out: dict[str, list[Tensor]] = {k: [] for k in ("context", "observed", "target", "target_mask")}
    masks = []
    for item in items:
        pad = width - item["context"].shape[0]
        for key in out:
            out[key].append(torch.nn.functional.pad(item[key], (0, 0, 0, pad)))
        masks.append(torch.arange(width) >= item["context"].shape[0])
    return {**{k: torch.stack(v) for k, v in out.items()}, "variate_mask": torch.stack(masks),
            "season": torch.stack([item["season"] for item in items])}
