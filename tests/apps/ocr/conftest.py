"""Tiny rendered OCR data and one tiny trained model, shared by the OCR tests."""

import pytest

from apps.ocr import steps


@pytest.fixture(scope="session")
def tiny_ocr(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocr")
    cfg = steps.config("tiny")
    data = steps.prepare_data(cfg, root / "data", progress=False)
    trained = steps.train_model(cfg, data, root / "run")
    return {"cfg": cfg, "data": data, "model": trained["model_dir"], "root": root}
