"""One tiny trained model per app, shared by the kill suite and the bad-input suite.

``tiny_model(app, root)`` prepares the App's shipped or generated data and trains its ``tiny``
config (the ``train`` stage) under ``root/<app>`` the first time it is asked for in a process,
then hands back the same folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.app import get_app

APPS = ("forecasting", "molecules", "speech-asr", "vision", "ocr", "summarization")
# Settings a tiny model needs beyond the tiny config (where the molecules data set is downloaded to).
OVERRIDES = {"molecules": lambda work: [f"data.cache_dir={work / 'cache'}"]}
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
        work = key[1] / app
        application = get_app(app)
        cfg = application.load_config("tiny", OVERRIDES.get(app, lambda _: [])(work))
        data = application.prepare(cfg, work / "data")
        model = application.train(cfg, data, work / "run").model_dir  # the last stage ("train") only
        _TRAINED[key] = TinyModel(Path(data), Path(model))
    return _TRAINED[key]
