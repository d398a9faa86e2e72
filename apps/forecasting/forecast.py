"""Forecasting with a trained model: histories in, quantile forecasts out."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from apps.forecasting.model import ForecastModelConfig, denormalise
from apps.forecasting.windows import context_window


@torch.no_grad()
def forecast_series(model: nn.Module, cfg: ForecastModelConfig, histories: list[np.ndarray], horizon: int,
                    batch_size: int = 256) -> np.ndarray:
    """``[N, horizon, Q]`` quantile forecasts for univariate histories (PatchTST),
    or for the histories taken together as one panel (iTransformer)."""
    if horizon > cfg.max_horizon:
        raise ValueError(f"horizon {horizon} exceeds the model's max_horizon {cfg.max_horizon}")
    model.eval()
    windows = [context_window(np.asarray(h, dtype=np.float32), len(h), cfg.lookback) for h in histories]
    context = torch.tensor(np.stack([c for c, _ in windows]))
    observed = torch.tensor(np.stack([s for _, s in windows]))
    if cfg.kind == "itransformer":
        out, mean, std = model(context[None], observed[None])
        result = denormalise(out, mean, std)[0]
    else:
        parts = []
        for start in range(0, len(histories), batch_size):
            out, mean, std = model(context[start : start + batch_size], observed[start : start + batch_size])
            parts.append(denormalise(out, mean, std))
        result = torch.cat(parts)
    # Quantile heads can cross; sorting restores a valid (monotone) set per step.
    return result[:, :horizon].sort(dim=-1).values.numpy()


def quantile_columns(quantiles: list[float]) -> tuple[int, int, int]:
    """Indices of the median and of the outermost quantiles (the interval)."""
    return quantiles.index(0.5), 0, len(quantiles) - 1
