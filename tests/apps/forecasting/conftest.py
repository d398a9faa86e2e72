"""One tiny trained forecaster shared by the forecasting tests."""

import pytest

from apps.forecasting.app import APP


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecasting")
    cfg = APP.load_config("tiny")
    data = APP.prepare(cfg, root / "data")
    trained = APP.train(cfg, data, root / "run").to_dict()
    return {"cfg": cfg, "data": data, "model_dir": trained["model_dir"], "root": root, "trained": trained}
