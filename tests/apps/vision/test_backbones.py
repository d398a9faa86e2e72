"""timm backbones: any timm model's feature pyramid under the shared encoder, and the user's own
timm weights loaded from disk (never from the network)."""

import pytest
import timm
import torch
from safetensors.torch import save_file

from apps.vision.model import DenseVisionTransformer, VisionModelConfig, normalise
from apps.vision.predict import dense_predict
from shared.config import config_to_dict
from shared.errors import ConfigError
from shared.model_folder import load_model, save_model

BACKBONE = "mobilenetv3_small_050"  # 0.3 M parameters, feature maps at strides 2, 4, 8, 16 and 32


def _cfg(**kw) -> VisionModelConfig:
    return VisionModelConfig(backbone=BACKBONE, d_model=32, n_heads=4, layers=2, d_ff=64, decoder_channels=16,
                             num_classes=3, num_det_classes=2, **kw)


@pytest.fixture
def timm_checkpoint(tmp_path):
    """A whole timm classifier (head included) with non-trivial weights and batch-norm statistics,
    saved as the user would have it."""
    torch.manual_seed(0)
    reference = timm.create_model(BACKBONE, pretrained=False, num_classes=7)
    with torch.no_grad():
        for name, tensor in reference.state_dict().items():
            if "running" in name:
                tensor.uniform_(0.5, 1.5)
    path = tmp_path / "backbone.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    return reference.eval(), path


def test_a_timm_backbone_feeds_the_decoder_and_the_encoder():
    model = DenseVisionTransformer(_cfg()).eval()
    assert model.stride == 32 and model.skip_strides == [2, 4, 8, 16]
    out = model(normalise(torch.randint(0, 255, (2, 64, 96, 3), dtype=torch.uint8)))
    assert out.seg.shape == (2, 3, 64, 96) and out.heat.shape == (2, 2, 16, 24) and out.box.shape == (2, 4, 16, 24)
    probs = dense_predict(model, torch.randint(0, 255, (1, 50, 70, 3), dtype=torch.uint8))  # padded to 32s
    assert probs.seg.shape == (1, 3, 50, 70)
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.zeros(1, 3, 48, 64))


def test_local_timm_weights_load_into_the_backbone(timm_checkpoint):
    reference, path = timm_checkpoint
    model = DenseVisionTransformer(_cfg(), backbone_weights=str(path)).eval()
    random_init = DenseVisionTransformer(_cfg()).eval()
    x = torch.rand(1, 3, 64, 64)
    expected = reference.forward_intermediates(x, intermediates_only=True)[-1]
    ours_in = (x - 0.5) / 0.25  # our normalisation; the tokenizer maps it back to the model's mean and std
    mean, std = model.tokenizer.mean, model.tokenizer.std
    got = model.tokenizer.body((ours_in * 0.25 + 0.5 - mean) / std)[-1]
    want = reference.forward_intermediates((x - mean) / std, intermediates_only=True)[-1]
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(random_init.tokenizer.body((x - mean) / std)[-1], want, atol=1e-3)
    assert expected.shape == got.shape


def test_the_saved_model_gives_the_loaded_backbones_outputs_without_the_weights_file(timm_checkpoint, tmp_path):
    _, path = timm_checkpoint
    model = DenseVisionTransformer(_cfg(), backbone_weights=str(path)).eval()
    save_model(tmp_path / "m", model, "vision-dense", config_to_dict(model.cfg))
    path.unlink()
    loaded = load_model(tmp_path / "m").model.eval()
    x = normalise(torch.randint(0, 255, (1, 64, 64, 3), dtype=torch.uint8))
    a, b = model(x), loaded(x)
    assert torch.equal(a.seg, b.seg) and torch.equal(a.heat, b.heat) and torch.equal(a.box, b.box)


def test_training_with_local_weights_saves_a_self_contained_model(timm_checkpoint, tmp_path):
    from apps.vision.app import APP

    _, path = timm_checkpoint
    cfg = APP.load_config("tiny", [f"model.backbone={BACKBONE}", f"model.backbone_weights={path}",
                                   "train.max_steps=2", "train.eval_every=2"])
    data = APP.prepare(cfg, tmp_path / "data")
    trained = APP.train(cfg, data, tmp_path / "run")
    loaded = load_model(trained.model_dir)
    assert loaded.model.cfg.backbone == BACKBONE and loaded.model.cfg.backbone_weights == ""


@pytest.mark.parametrize("change, message", [
    ({"backbone": "no_such_net"}, "timm has no model"),
    ({"backbone": "vit_tiny_patch16_224"}, "strides"),
])
def test_unusable_backbones_are_one_line_errors(change, message):
    with pytest.raises(ConfigError, match=message):
        DenseVisionTransformer(VisionModelConfig(**{**config_to_dict(_cfg()), **change}))


def test_a_missing_or_mismatched_weights_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="no file"):
        DenseVisionTransformer(_cfg(), backbone_weights=str(tmp_path / "missing.safetensors"))
    other = tmp_path / "other.safetensors"
    save_file({"fc.weight": torch.zeros(2, 2)}, str(other))
    with pytest.raises(ConfigError, match=BACKBONE):
        DenseVisionTransformer(_cfg(), backbone_weights=str(other))
