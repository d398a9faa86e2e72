"""One tiny trained vision model shared by the vision tests."""

import pytest

from apps.vision.app import APP


@pytest.fixture(scope="session")
def tiny_vision(tmp_path_factory):
    root = tmp_path_factory.mktemp("vision")
    cfg = APP.load_config("tiny")
    data = APP.prepare(cfg, root / "data")
    trained = APP.train(cfg, data, root / "run").to_dict()
    return {"cfg": cfg, "data": str(data), "model_dir": trained["model_dir"], "root": root, "trained": trained}
