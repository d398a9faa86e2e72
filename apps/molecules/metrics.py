"""Regression (RMSE, MAE, R²) and classification (ROC-AUC, PR-AUC) metrics, NaN-aware."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    keep = np.isfinite(y)
    y, pred = y[keep], pred[keep]
    resid = y - pred
    ss_tot = float(((y - y.mean()) ** 2).sum())
    return {"rmse": float(np.sqrt((resid**2).mean())), "mae": float(np.abs(resid).mean()),
            "r2": 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else float("nan")}


def classification_metrics(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    keep = np.isfinite(y)
    y, prob = y[keep], prob[keep]
    if len(np.unique(y)) < 2:
        return {"roc_auc": float("nan"), "pr_auc": float("nan")}
    return {"roc_auc": float(roc_auc_score(y, prob)), "pr_auc": float(average_precision_score(y, prob))}


def score(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Metrics averaged over target columns (``[N, T]`` arrays)."""
    fn = regression_metrics if task == "regression" else classification_metrics
    per_target = [fn(y[:, t], pred[:, t]) for t in range(y.shape[1])]
    return {k: float(np.nanmean([m[k] for m in per_target])) for k in per_target[0]}
