"""One-to-one matching: Hungarian assignment on a cost matrix, and mask IoU matrices.

Used by set-prediction training (DETR-style: predictions matched to targets
before the loss) and by instance metrics (predictions matched to ground truth).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def hungarian_match(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the minimum-cost one-to-one assignment of a ``[N, M]`` cost matrix
    (``min(N, M)`` pairs, rows ascending)."""
    cost = np.asarray(cost, dtype=np.float64)
    if cost.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows, cols = linear_sum_assignment(cost)
    return rows.astype(np.int64), cols.astype(np.int64)


def mask_iou_matrix(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """IoU of every predicted mask with every true mask: ``[N, H, W]`` x ``[M, H, W]`` -> ``[N, M]``."""
    if len(pred) == 0 or len(true) == 0:
        return np.zeros((len(pred), len(true)))
    p = pred.reshape(len(pred), -1).astype(np.float64)
    t = true.reshape(len(true), -1).astype(np.float64)
    inter = p @ t.T
    union = p.sum(1)[:, None] + t.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def match_by_iou(iou: np.ndarray, threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """(pred, true, IoU) pairs of the IoU-maximising one-to-one matching, keeping pairs with IoU >= threshold."""
    rows, cols = hungarian_match(-iou)
    return [(int(r), int(c), float(iou[r, c])) for r, c in zip(rows, cols) if iou[r, c] >= threshold]
