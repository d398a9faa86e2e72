"""Typed configs: YAML + overrides, with clear errors for mistakes."""

from dataclasses import dataclass, field

import pytest

from shared.config import config_from_dict, config_to_dict, load_config
from shared.errors import ConfigError
from shared.models import TransformerConfig
from shared.training import TrainConfig


@dataclass
class Experiment:
    model: TransformerConfig = field(default_factory=TransformerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    name: str = "run"


def test_yaml_plus_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  d_model: 64\n  n_heads: 4\ntrain:\n  lr: 0.001\n")
    cfg = load_config(Experiment, path, ["train.lr=3e-4", "model.position=rotary", "train.betas=[0.9, 0.95]", "name=x"])
    assert cfg.model.d_model == 64 and cfg.train.lr == 3e-4 and cfg.model.position == "rotary"
    assert cfg.train.betas == (0.9, 0.95) and cfg.name == "x"
    assert config_from_dict(Experiment, config_to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "override,message",
    [
        ("model.d_modle=3", "unknown key"),
        ("model.position=spiral", "not one of"),
        ("train.max_steps=ten", "expected an integer"),
        ("model.d_model=30", "divisible"),
        ("train.lr", "key=value"),
        ("train.lr=-1", "lr must be positive"),
    ],
)
def test_mistakes_are_one_line_errors(override, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(Experiment, None, [override])
    assert "\n" not in str(info.value)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Experiment, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(Experiment, bad)
