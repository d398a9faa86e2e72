"""One tiny trained model per app, shared by the kill suite and the bad-input suite.

``tiny_model(app, root)`` prepares the app's shipped or generated data and trains its ``tiny``
config under ``root/<app>`` the first time it is asked for in a process, then hands back the
same folders.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

APPS = ("forecasting", "molecules", "speech", "vision", "ocr", "summarization")
_TRAINED: dict[tuple[str, Path], TinyModel] = {}


@dataclass(frozen=True)
class TinyModel:
    data: Path  # the prepared data folder
    model: Path  # the trained model folder


def tiny_model(app: str, root: Path) -> TinyModel:
    """The tiny ``app`` model trained under ``root`` (trained on the first call)."""
    key = (app, Path(root).resolve())
    if key not in _TRAINED:
        if app not in APPS:
            raise ValueError(f"unknown app {app!r}")
        steps = importlib.import_module(f"apps.{app}.steps")
        work = key[1] / app
        cfg = steps.config("tiny", [f"cache_dir={work / 'cache'}"] if app == "molecules" else None)
        quiet = {"progress": False} if app in ("speech", "ocr", "summarization") else {}
        data = steps.prepare_data(cfg, work / "data", **quiet)
        model = steps.train_model(cfg, data, work / "run")["model_dir"]
        _TRAINED[key] = TinyModel(Path(data), Path(model))
    return _TRAINED[key]
