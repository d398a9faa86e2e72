"""One tiny trained forecaster shared by the forecasting tests."""

import pytest

from apps.forecasting import steps


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecasting")
    cfg = steps.config("tiny")
    data = steps.prepare_data(cfg, root / "data")
    trained = steps.train_model(cfg, data, root / "run")
    return {"cfg": cfg, "data": data, "model_dir": trained["model_dir"], "root": root, "trained": trained}
