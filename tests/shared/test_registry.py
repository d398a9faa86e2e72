"""Model registry: versions, champion promotion, integrity, concurrency."""

import json
import multiprocessing as mp
import random

from pathlib import Path

import pytest

from shared.config import config_to_dict
from shared.errors import RegistryError
from shared.model_folder import save_model
from shared.models import EncoderDecoder
from shared.registry import ModelRegistry
from tests.shared.helpers import tiny_config


@pytest.fixture()
def model_dir(tmp_path):
    cfg = tiny_config()
    return save_model(tmp_path / "model", EncoderDecoder(cfg), "encoder-decoder", config_to_dict(cfg))


def test_promotes_only_when_better(tmp_path, model_dir):
    reg = ModelRegistry(tmp_path / "reg")
    v1 = reg.register("toy", model_dir, {"rmse": 2.0})
    assert reg.promote_if_better("toy", v1.version, "rmse").promoted
    v2 = reg.register("toy", model_dir, {"rmse": 3.0})
    result = reg.promote_if_better("toy", v2.version, "rmse")
    assert not result.promoted and "does not beat" in result.reason
    v3 = reg.register("toy", model_dir, {"rmse": 1.5})
    assert reg.promote_if_better("toy", v3.version, "rmse").promoted
    assert reg.champion("toy").version == "v0003"
    assert [v.version for v in reg.versions("toy")] == ["v0001", "v0002", "v0003"]
    assert reg.models() == ["toy"]


def test_max_mode_and_missing_metric(tmp_path, model_dir):
    reg = ModelRegistry(tmp_path)
    a = reg.register("clf", model_dir, {"auc": 0.7})
    b = reg.register("clf", model_dir, {"auc": 0.8})
    reg.promote_if_better("clf", a.version, "auc", "max")
    assert reg.promote_if_better("clf", b.version, "auc", "max").promoted
    with pytest.raises(RegistryError, match="no metric"):
        reg.promote_if_better("clf", b.version, "rmse")


def test_load_checks_weights_hash(tmp_path, model_dir):
    reg = ModelRegistry(tmp_path)
    v = reg.register("toy", model_dir, {"rmse": 1.0})
    reg.promote_if_better("toy", v.version, "rmse")
    loaded, entry = reg.load("toy")
    assert entry.version == "v0001" and loaded.model is not None
    weights = v.path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="sha256"):
        reg.load("toy")
    with pytest.raises(RegistryError, match="sha256"):
        reg.verified("toy")  # what the batch flows use before handing the folder on


def test_batch_flows_check_the_weights_hash():
    """Every flow that takes a registered model by path goes through verified(), never plain get()."""
    import re

    flows = Path(__file__).resolve().parents[2] / "pipelines"
    for path in flows.glob("*.py"):
        assert not re.search(r"ModelRegistry\([^)]*\)\.get\(", path.read_text()), path.name


def test_unknown_version_and_manual_rollback(tmp_path, model_dir):
    reg = ModelRegistry(tmp_path)
    with pytest.raises(RegistryError, match="no version"):
        reg.get("toy", "v0009")
    a = reg.register("toy", model_dir, {"rmse": 1.0})
    b = reg.register("toy", model_dir, {"rmse": 0.5})
    reg.promote_if_better("toy", b.version, "rmse")
    reg.set_alias("toy", "champion", a.version)
    assert reg.champion("toy").version == a.version


def _promote_many(root, model_dir, seed, count):
    reg = ModelRegistry(root)
    rng = random.Random(seed)
    for _ in range(count):
        v = reg.register("race", model_dir, {"rmse": rng.random()})
        reg.promote_if_better("race", v.version, "rmse")


def test_concurrent_promotions_stay_consistent(tmp_path, model_dir):
    # Two fresh interpreters, as two real jobs would be (fork is unsafe once a
    # Prefect test server's threads exist in this process).
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_promote_many, args=(tmp_path, model_dir, seed, 6)) for seed in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    reg = ModelRegistry(tmp_path)
    versions = reg.versions("race")
    assert [v.version for v in versions] == [f"v{i:04d}" for i in range(1, 13)]
    best = min(versions, key=lambda v: v.metrics["rmse"])
    assert reg.champion("race").version == best.version
    json.loads((tmp_path / "race" / "aliases.json").read_text())
