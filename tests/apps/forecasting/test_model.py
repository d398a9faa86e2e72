"""Forecasting models: shapes, masking, quantile loss, persistence."""

import pytest
import torch

from apps.forecasting.model import (ForecastModelConfig, ITransformer, PatchTST, build_model, denormalise, pinball_loss,
                                    seasonal_naive, seasonal_profile_naive)
from shared.config import config_to_dict
from shared.model_folder import load_model, save_model
from shared.models import TransformerConfig


def _cfg(kind="patchtst", skip="naive"):
    enc = TransformerConfig(d_model=32, n_heads=4, encoder_layers=2, d_ff=64, dropout=0.0, position="learned", max_len=16)
    return ForecastModelConfig(kind=kind, lookback=32, max_horizon=8, patch_len=8, stride=4, encoder=enc, skip=skip)


def test_seasonal_naive_repeats_the_last_season_and_falls_back_to_the_last_value():
    values = torch.arange(10.0).repeat(2, 1)  # 0..9 in two rows
    observed = torch.ones(2, 10, dtype=torch.bool)
    forecast = seasonal_naive(values, observed, torch.tensor([4, 1]), horizon=6)
    assert forecast[0].tolist() == [6, 7, 8, 9, 6, 7]  # the last 4 values, repeated
    assert forecast[1].tolist() == [9] * 6  # season 1: naive
    assert seasonal_naive(values, observed, torch.tensor([11, 10]), 3).tolist() == [[9, 9, 9], [0, 1, 2]]  # too long
    observed[0, 6] = False  # left padding: the value a season back is unknown
    assert seasonal_naive(values, observed, torch.tensor([4, 4]), 2)[0].tolist() == [9, 7]
    assert seasonal_naive(values, observed, None, 2).tolist() == [[9, 9], [9, 9]]
    panel = seasonal_naive(values[None], observed[None].fill_(True), torch.tensor([3]), 3)  # one season per panel
    assert panel.tolist() == [[[7, 8, 9], [7, 8, 9]]]


def test_the_profile_baseline_moves_the_last_value_by_the_averaged_seasonal_pattern():
    pattern = torch.tensor([0.0, 3.0, -1.0, -2.0])  # season 4, mean 0
    t = torch.arange(24.0)
    noise = torch.tensor([0.5] * 4 + [-0.5] * 4).repeat(3)  # +-0.5 in alternate seasons: cancels in each phase's mean
    values = torch.stack([2 * t + pattern.repeat(6) + noise, 2 * t + pattern.repeat(6)])
    observed = torch.ones(2, 24, dtype=torch.bool)
    forecast = seasonal_profile_naive(values, observed, torch.tensor([4, 1]), horizon=6)
    change = pattern[[0, 1, 2, 3, 0, 1]] - pattern[3]  # the last step has phase 3
    torch.testing.assert_close(forecast[0], values[0, -1] + change, atol=0.3, rtol=0)  # the trend's slope leaks a little
    assert forecast[1].tolist() == [values[1, -1].item()] * 6  # season 1: naive
    observed[0, :17] = False  # seven observed points: phase 0 seen once, the others twice
    short = values * observed
    one_season = seasonal_profile_naive(short, observed, torch.tensor([4, 4]), 3, min_seasons=1)[0]
    assert not torch.equal(one_season, values[0, -1].repeat(3))  # one season is enough when asked
    assert torch.equal(seasonal_profile_naive(short, observed, torch.tensor([4, 4]), 3, min_seasons=2)[0], values[0, -1].repeat(3))
    observed[0, :21] = False  # three observed points: phase 0 never seen
    assert torch.equal(seasonal_profile_naive(values * observed, observed, torch.tensor([4, 4]), 3)[0], values[0, -1].repeat(3))
    longer = seasonal_profile_naive(values, torch.ones_like(observed), torch.tensor([30, 30]), 3)  # longer than the context
    assert torch.equal(longer, values[:, -1:].repeat(1, 3))
    assert torch.equal(seasonal_profile_naive(values, observed, None, 2), values[:, -1:].repeat(1, 2))


@pytest.mark.parametrize("kind", ["patchtst", "itransformer"])
def test_a_seasonal_model_predicts_a_residual_over_the_seasonal_naive_forecast(kind):
    t = torch.arange(32.0)
    context = 100 + 10 * torch.sin(2 * torch.pi * t / 12) + t  # season 12 with a trend
    shape = (1, 32) if kind == "patchtst" else (1, 1, 32)

    def median_without_residual(skip: str) -> torch.Tensor:
        model = build_model(_cfg(kind, skip=skip)).eval()
        head = model.head[-1] if kind == "patchtst" else model.head
        torch.nn.init.zeros_(head.weight)
        torch.nn.init.zeros_(head.bias)  # no residual: the forecast is the baseline itself
        out, mean, std = model(context.reshape(shape), torch.ones(shape, dtype=torch.bool), season=torch.tensor([12]))
        return denormalise(out, mean, std)[..., 1].reshape(-1)

    torch.testing.assert_close(median_without_residual("seasonal"), context[20:28], rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(median_without_residual("naive"), context[31].repeat(8), rtol=1e-5, atol=1e-3)


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


def test_each_series_season_reaches_the_model_in_training_and_forecasting():
    from apps.forecasting.predict import forecast_series
    from apps.forecasting.windows import PanelWindows, SeriesWindows, collate_panels

    series = [torch.arange(40.0).numpy(), torch.arange(30.0).numpy()]
    windows = SeriesWindows(series, lookback=32, horizon=8, count=6, seasons=[12, 4])
    assert [int(windows[i]["season"]) for i in range(6)] == [[12, 4][k] for k, _ in windows.items]
    panels = PanelWindows([torch.zeros(2, 40).numpy()], 32, 8, count=2, seasons=[7])
    assert collate_panels([panels[0], panels[1]])["season"].tolist() == [7, 7]

    model = build_model(_cfg(skip="seasonal")).eval()
    torch.nn.init.zeros_(model.head[-1].weight)
    torch.nn.init.zeros_(model.head[-1].bias)
    forecasts = forecast_series(model, model.cfg, series, horizon=5, seasons=[12, 4])
    assert forecasts[0, :, 1].tolist() == pytest.approx([28, 29, 30, 31, 32], abs=1e-3)  # a season back from 40
    assert forecasts[1, :, 1].tolist() == pytest.approx([26, 27, 28, 29, 26], abs=1e-3)
    no_seasons = forecast_series(model, model.cfg, series, horizon=2)[:, :, 1]  # naive
    assert no_seasons.ravel().tolist() == pytest.approx([39, 39, 29, 29], abs=1e-3)
