"""Tiny rendered OCR data and one tiny trained model, shared by the OCR tests."""

import pytest

from apps.ocr.app import APP


@pytest.fixture(scope="session")
def tiny_ocr(tmp_path_factory):
    root = tmp_path_factory.mktemp("ocr")
    cfg = APP.load_config("tiny")
    data = str(APP.prepare(cfg, root / "data"))
    trained = APP.train(cfg, data, root / "run")
    return {"cfg": cfg, "data": data, "model": trained.model_dir, "root": root}
