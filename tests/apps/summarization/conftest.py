"""Tiny prepared summarization data and one tiny pretrained + fine-tuned model, shared by the tests."""

import pytest

from apps.summarization import steps


@pytest.fixture(scope="session")
def tiny_summ(tmp_path_factory):
    root = tmp_path_factory.mktemp("summarization")
    cfg = steps.config("tiny")
    data = steps.prepare_data(cfg, root / "data", progress=False)
    pretrained = steps.pretrain_model(cfg, data, root / "pretrain")
    trained = steps.train_model(cfg, data, root / "run", pretrained["model_dir"])
    return {"cfg": cfg, "data": data, "model": trained["model_dir"], "pretrained": pretrained, "root": root}
