"""One tiny trained vision model shared by the vision tests."""

import pytest

from apps.vision import steps


@pytest.fixture(scope="session")
def tiny_vision(tmp_path_factory):
    root = tmp_path_factory.mktemp("vision")
    cfg = steps.config("tiny")
    data = steps.prepare_data(cfg, root / "data")
    trained = steps.train_model(cfg, data, root / "run")
    return {"cfg": cfg, "data": data, "model_dir": trained["model_dir"], "root": root, "trained": trained}
