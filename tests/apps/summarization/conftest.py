"""Tiny prepared summarization data and one tiny pretrained + fine-tuned model, shared by the tests."""

import pytest

from apps.summarization.app import APP


@pytest.fixture(scope="session")
def tiny_summ(tmp_path_factory):
    root = tmp_path_factory.mktemp("summarization")
    cfg = APP.load_config("tiny")
    data = APP.prepare(cfg, root / "data")
    pretrained = APP.train(cfg, data, root / "pretrain", "pretrain")
    trained = APP.train(cfg, data, root / "run", "train", init=pretrained.model_dir)
    return {"cfg": cfg, "data": data, "model": trained.model_dir, "pretrained": pretrained.to_dict(),
            "trained": trained.to_dict(), "root": root}
