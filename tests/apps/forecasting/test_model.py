"""Forecasting models: shapes, masking, quantile loss, persistence."""

import pytest
import torch

from apps.forecasting.model import ForecastModelConfig, ITransformer, PatchTST, build_model, pinball_loss
from shared.config import config_to_dict
from shared.model_folder import load_model, save_model
from shared.models import TransformerConfig


def _cfg(kind="patchtst"):
    enc = TransformerConfig(d_model=32, n_heads=4, encoder_layers=2, d_ff=64, dropout=0.0, position="learned", max_len=16)
    return ForecastModelConfig(kind=kind, lookback=32, max_horizon=8, patch_len=8, stride=4, encoder=enc)


def test_patchtst_ignores_unobserved_values():
    model = PatchTST(_cfg()).eval()
    context = torch.randn(2, 32)
    observed = torch.zeros(2, 32, dtype=torch.bool)
    observed[:, 12:] = True  # a 20-point history, left-padded
    out, mean, std = model(context, observed)
    garbage = context.clone()
    garbage[:, :12] = 1e6
    out2, mean2, std2 = model(garbage, observed)
    assert out.shape == (2, 8, 3)
    torch.testing.assert_close(out, out2)
    torch.testing.assert_close(mean, mean2)


def test_outputs_are_anchored_to_the_last_value_and_scale_free():
    model = PatchTST(_cfg()).eval()
    context = torch.randn(3, 32)
    observed = torch.ones(3, 32, dtype=torch.bool)
    out, mean, std = model(context, observed)
    out_scaled, mean_s, std_s = model(context * 1000 + 5, observed)
    torch.testing.assert_close(out, out_scaled, rtol=1e-4, atol=1e-4)  # instance normalisation
    torch.testing.assert_close(mean_s, mean * 1000 + 5, rtol=1e-4, atol=1e-3)


def test_itransformer_variate_padding_does_not_leak():
    model = ITransformer(_cfg("itransformer")).eval()
    context = torch.randn(1, 3, 32)
    observed = torch.ones(1, 3, 32, dtype=torch.bool)
    out, _, _ = model(context[:, :2], observed[:, :2])
    padded, _, _ = model(torch.cat([context[:, :2], torch.randn(1, 1, 32) * 50], 1), observed,
                         torch.tensor([[False, False, True]]))
    assert padded.shape == (1, 3, 8, 3)
    torch.testing.assert_close(padded[:, :2], out, rtol=1e-5, atol=1e-5)


def test_pinball_loss():
    pred = torch.tensor([[[0.0, 1.0, 2.0]]])  # one step, quantiles .1 .5 .9
    target = torch.tensor([[1.0]])
    expected = (0.1 * 1 + 0 + 0.1 * 1) / 3  # under by 1 at q.1, over by 1 at q.9
    assert pinball_loss(pred, target, [0.1, 0.5, 0.9]).item() == pytest.approx(expected, rel=1e-6)
    mask = torch.tensor([[False]])
    assert pinball_loss(pred, target, [0.1, 0.5, 0.9], mask).item() == 0.0


def test_model_folder_round_trip(tmp_path):
    for kind in ("patchtst", "itransformer"):
        cfg = _cfg(kind)
        model = build_model(cfg).eval()
        save_model(tmp_path / kind, model, "forecasting", config_to_dict(cfg))
        loaded = load_model(tmp_path / kind).model
        shape = (2, 32) if kind == "patchtst" else (1, 2, 32)
        x, obs = torch.randn(*shape), torch.ones(*shape, dtype=torch.bool)
        torch.testing.assert_close(model(x, obs)[0], loaded(x, obs)[0])
