"""Model folders rebuild the same model from disk alone, with nothing unpickled."""

import importlib
import json

import pytest
import torch

from shared.config import config_to_dict
from shared import model_folder
from shared.errors import ModelFolderError
from shared.model_folder import load_model, save_model
from shared.models import EncoderDecoder, GenerationConfig
from shared.tokenizers import CharTokenizer
from tests.shared.helpers import tiny_config


@pytest.mark.parametrize("position", ["learned", "rotary"])
def test_save_then_load_gives_identical_outputs(tmp_path, position):
    tokenizer = CharTokenizer.train(["abcdefghijklmnopqrs"])
    cfg = tiny_config(position=position, vocab_size=tokenizer.vocab_size)
    model = EncoderDecoder(cfg).eval()
    folder = save_model(tmp_path / "m", model, "encoder-decoder", config_to_dict(cfg), tokenizer, {"note": "x"})
    loaded = load_model(folder)
    src = {"input_ids": tokenizer.encode_batch(["abc", "hello"])}
    dec = torch.randint(4, cfg.vocab_size, (2, 6))
    assert torch.equal(model(src, dec), loaded.model(src, dec))
    assert torch.equal(model.generate(src, GenerationConfig(num_beams=2, max_new_tokens=8)),
                       loaded.model.generate(src, GenerationConfig(num_beams=2, max_new_tokens=8)))
    assert loaded.tokenizer.decode(loaded.tokenizer.encode("hello")) == "hello"
    assert loaded.metadata == {"note": "x"}
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]


def test_weights_are_safetensors_not_pickle(tmp_path):
    cfg = tiny_config()
    folder = save_model(tmp_path / "m", EncoderDecoder(cfg), "encoder-decoder", config_to_dict(cfg))
    raw = (folder / "model.safetensors").read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    assert json.loads(raw[8 : 8 + header_len])  # a JSON header, not a pickle stream
    assert not raw.startswith(b"\x80")


def test_builders_come_from_the_allow_list_never_from_the_folder(tmp_path, monkeypatch):
    cfg = tiny_config()
    folder = save_model(tmp_path / "m", EncoderDecoder(cfg), "encoder-decoder", config_to_dict(cfg))
    spec = json.loads((folder / "config.json").read_text())
    spec["builder"], spec["builder_module"] = "evil", "os"
    (folder / "config.json").write_text(json.dumps(spec))
    with pytest.raises(ModelFolderError, match="unknown model builder 'evil'"):
        load_model(folder)

    # A known builder name with a hostile module: the allow-listed module is imported, not the folder's.
    imported, real_import = [], importlib.import_module
    monkeypatch.setattr(model_folder.importlib, "import_module",
                        lambda name: real_import(name) if name == "apps" else imported.append(name))
    monkeypatch.delitem(model_folder._BUILDERS, "forecasting", raising=False)
    spec["builder"], spec["builder_module"] = "forecasting", "subprocess"
    (folder / "config.json").write_text(json.dumps(spec))
    with pytest.raises(ModelFolderError):
        load_model(folder)  # our stub imported nothing, so the builder is still missing
    assert imported == ["apps.forecasting.model"]


def test_every_registered_builder_is_on_the_allow_list():
    allowed = model_folder.builder_modules()
    for module in sorted(set(allowed.values())):
        importlib.import_module(module)
    assert set(model_folder._BUILDERS) == set(allowed)
    assert all(model_folder._BUILDERS[name][1] == module for name, module in allowed.items())


def test_missing_or_mismatched_weights_are_clear_errors(tmp_path):
    cfg = tiny_config()
    folder = save_model(tmp_path / "m", EncoderDecoder(cfg), "encoder-decoder", config_to_dict(cfg))
    spec = json.loads((folder / "config.json").read_text())
    spec["config"]["d_ff"] = 128
    (folder / "config.json").write_text(json.dumps(spec))
    with pytest.raises(Exception, match="d_ff|size mismatch|shape"):
        load_model(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelFolderError, match="no model.safetensors"):
        load_model(folder)
    with pytest.raises(ModelFolderError, match="not a model folder"):
        load_model(tmp_path / "nowhere")


def test_failed_save_leaves_no_folder(tmp_path):
    cfg = tiny_config()
    with pytest.raises(ModelFolderError):
        save_model(tmp_path / "m", EncoderDecoder(cfg), "no-such-builder", config_to_dict(cfg))
    assert list(tmp_path.iterdir()) == []
