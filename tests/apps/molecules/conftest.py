"""One tiny trained graph model shared by the molecules tests."""

import pytest

from apps.molecules.app import APP


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("mol")
    cfg = APP.load_config("tiny", [f"data.cache_dir={root / 'cache'}", "model.dropout=0.1"])
    data = APP.prepare(cfg, root / "data")
    summary = APP.train(cfg, data, root / "run")
    return {"cfg": cfg, "data": data, "model_dir": summary.model_dir, "root": root, "summary": summary}
