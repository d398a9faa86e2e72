"""The peers ours is compared with. Here: the classic nuclei segmentation, an Otsu threshold, then
a distance-transform watershed (scikit-image). YOLOv8n (ultralytics, AGPL-3.0) is compared in
``benchmarks/vision.py`` only.

The textbook pipeline the nuclei task is compared with: smooth, threshold at
Otsu's level (foreground mask), split touching nuclei by a watershed on the
distance transform seeded at its local maxima, drop tiny fragments. It has no
training; its few parameters (smoothing, seed distance, minimum size) are
fixed defaults, not tuned on the test tiles.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.morphology import remove_small_objects
from skimage.segmentation import watershed

from apps.vision.config import PEERS
from apps.vision.predict import Detections, Prediction
from shared.errors import DataError


def otsu_foreground(image: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Boolean foreground of a grayscale (or RGB, averaged) image."""
    gray = image.mean(axis=2) if image.ndim == 3 else image
    smooth = gaussian(gray.astype(np.float64), sigma=sigma)
    if smooth.max() == smooth.min():
        return np.zeros(gray.shape, dtype=bool)
    return smooth > threshold_otsu(smooth)


def otsu_watershed_instances(image: np.ndarray, sigma: float = 1.0, min_distance: int = 4,
                             min_size: int = 8) -> np.ndarray:
    """Instance labels ``int32 [H, W]`` (0 background) from Otsu + distance-transform watershed."""
    foreground = remove_small_objects(otsu_foreground(image, sigma), max_size=min_size - 1)
    if not foreground.any():
        return np.zeros(foreground.shape, dtype=np.int32)
    distance = ndi.distance_transform_edt(foreground)
    peaks = peak_local_max(distance, min_distance=min_distance, labels=ndi.label(foreground)[0], exclude_border=False)
    markers = np.zeros(foreground.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-distance, markers, mask=foreground).astype(np.int32)


def otsu_predictions(images: list[np.ndarray]) -> list[Prediction]:
    """The Otsu + watershed peer's output in the form our scorer reads: the foreground as the class
    map, its instances, and each instance's box as a detection of score 1 (it has no confidences)."""
    preds = []
    for image in images:
        labels = otsu_watershed_instances(image)
        ids = [i for i in np.unique(labels) if i]
        boxes = []
        for i in ids:
            ys, xs = np.nonzero(labels == i)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        found = Detections(np.asarray(boxes, np.float32).reshape(-1, 4), np.ones(len(ids), np.float32),
                           np.zeros(len(ids), np.int64))
        relabelled = np.zeros_like(labels)
        for new, i in enumerate(ids, start=1):
            relabelled[labels == i] = new
        preds.append(Prediction((labels > 0).astype(np.uint8), found, relabelled,
                                np.ones(len(ids), np.float32)))
    return preds


def applies(labels_detection: list[str], samples: list) -> bool:
    """Otsu separates one bright class from a dark background only: single-class data with instance masks."""
    return len(labels_detection) == 1 and all(s.masks is not None for s in samples)


def peer_predictions(name: str, images: list[np.ndarray]) -> list[Prediction]:
    if name == "otsu_watershed":
        return otsu_predictions(images)
    raise DataError(f"unknown peer {name!r}; available: {', '.join(PEERS)} (YOLOv8n: benchmarks/vision.py)")
