"""Forecasting models on the shared core, with quantile outputs.

* :class:`PatchTST` (Nie et al., 2023): each series on its own (channel
  independence), instance-normalised, cut into patches that become tokens of
  the shared encoder; a flatten head predicts every horizon step and quantile.
* :class:`ITransformer` (Liu et al., 2024): each *variate*'s whole lookback
  window is one token, so attention mixes variates of a panel.

Both see left-padded contexts with an ``observed`` mask, so series shorter
than the lookback still work, and both predict ``[B, (V,) H, Q]`` quantiles
in the normalised space; :func:`denormalise` maps them back. Their heads
predict a residual over a baseline forecast that the model adds back
(``skip``): the last value (naive), or the value one season earlier (seasonal
naive, given each row's season length), so a seasonal series starts from its
own last season.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from shared.config import config_from_dict, config_to_dict
from shared.model_folder import register_builder
from shared.models import Encoder, TransformerConfig
from shared.models.adapters import Adapter

EPS = 1e-5


@dataclass
class ForecastModelConfig:
    """Architecture of a forecasting model."""

    kind: Literal["patchtst", "itransformer"] = "patchtst"
    lookback: int = 96
    max_horizon: int = 24
    patch_len: int = 16
    stride: int = 8
    quantiles: list[float] = field(default_factory=lambda: [0.1, 0.5, 0.9])
    members: int = 1  # > 1: a deep ensemble of independently seeded models, quantiles averaged
    # the baseline the heads predict a residual over: the last value, or the value one season
    # earlier (rows whose season is 1, longer than the lookback or unobserved fall back to the last value)
    # "profile": the last value plus the change of a smoothed seasonal profile (phase means of the
    # linearly detrended context; rows with a phase observed fewer than ``profile_min_seasons``
    # times, or a season longer than the lookback, fall back to naive)
    skip: Literal["naive", "seasonal", "profile"] = "naive"
    # 2 (every phase seen twice) won for the trained models on the validation window: mean MASE
    # 0.749 vs 0.922 with 1 (forecasting_ablation.md), though the bare baseline does better with 1
    # (forecasting_baselines.md); 2 is also what models saved before this field existed used
    profile_min_seasons: int = 2
    encoder: TransformerConfig = field(
        default_factory=lambda: TransformerConfig(d_model=64, n_heads=4, encoder_layers=3, d_ff=128, dropout=0.1, position="learned", max_len=256)
    )

    def __post_init__(self) -> None:
        if 0.5 not in self.quantiles:
            raise ValueError("quantiles must include 0.5 (the point forecast)")
        if self.patch_len > self.lookback:
            raise ValueError("patch_len cannot exceed lookback")
        if self.skip not in ("naive", "seasonal", "profile"):
            raise ValueError(f"skip must be naive, seasonal or profile, got {self.skip!r}")
        if self.profile_min_seasons < 1:
            raise ValueError(f"profile_min_seasons must be at least 1, got {self.profile_min_seasons}")

    @property
    def num_patches(self) -> int:
        return (self.lookback - self.patch_len) // self.stride + 1


def instance_norm(context: Tensor, observed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Normalise each row by the mean/std of its observed values (RevIN without affine)."""
    weight = observed.to(context.dtype)
    count = weight.sum(-1, keepdim=True).clamp_min(1.0)
    mean = (context * weight).sum(-1, keepdim=True) / count
    var = (((context - mean) * weight) ** 2).sum(-1, keepdim=True) / count
    std = (var + EPS).sqrt()
    return (context - mean) / std * weight, mean, std


def last_value(values: Tensor) -> Tensor:
    """The last (always observed: contexts are left-padded) normalised value of each row."""
    return values[..., -1]


def seasonal_naive(values: Tensor, observed: Tensor, season: Tensor | None, horizon: int) -> Tensor:
    """The seasonal-naive forecast ``[..., horizon]`` of each row of ``values`` ``[..., L]``: step ``t``
    repeats the value ``season - t % season`` steps before the end. Rows whose ``season`` (``[...]``,
    broadcast over a panel's variates) is 1 or more than ``L``, and steps whose source is unobserved,
    take the last value instead, as do all rows when ``season`` is None."""
    last = last_value(values)[..., None].expand(*values.shape[:-1], horizon)
    if season is None:
        return last
    length = values.shape[-1]
    season = season.to(torch.long).reshape(season.shape + (1,) * (values.dim() - season.dim()))  # [..., 1]
    steps = torch.arange(horizon, device=values.device)
    usable = (season > 1) & (season <= length)
    index = (length - season + steps % season.clamp_min(1)).clamp(0, length - 1)
    index = index.expand(*values.shape[:-1], horizon)
    usable = usable & observed.gather(-1, index)
    return torch.where(usable, values.gather(-1, index), last)


def seasonal_profile_naive(values: Tensor, observed: Tensor, season: Tensor | None, horizon: int,
                           min_seasons: int = 1) -> Tensor:
    """The last value plus the seasonal profile's change from the last step's phase to each future
    step's: ``[..., horizon]``. The profile is the per-phase mean of the observed context after a
    least-squares line is removed (centred to mean zero), so it averages the noise of every season
    in the context instead of copying the last one. Rows with a season of 1 or longer than the
    context, or with a phase observed fewer than ``min_seasons`` times, get the naive forecast."""
    last = last_value(values)[..., None].expand(*values.shape[:-1], horizon)
    if season is None:
        return last
    shape = values.shape
    flat, seen = values.reshape(-1, shape[-1]), observed.reshape(-1, shape[-1]).to(values.dtype)
    length = flat.shape[-1]
    season = season.to(torch.long).reshape(season.shape + (1,) * (values.dim() - season.dim())).expand(*shape[:-1], 1).reshape(-1, 1)
    period = season.clamp(1, length)
    x = torch.arange(length, device=values.device, dtype=values.dtype)
    count = seen.sum(-1, keepdim=True).clamp_min(1.0)
    x_mean = (x * seen).sum(-1, keepdim=True) / count
    y_mean = (flat * seen).sum(-1, keepdim=True) / count
    slope = (((x - x_mean) * (flat - y_mean) * seen).sum(-1, keepdim=True)
             / (((x - x_mean) ** 2 * seen).sum(-1, keepdim=True)).clamp_min(EPS))
    detrended = (flat - y_mean - slope * (x - x_mean)) * seen
    phase = (torch.arange(length, device=values.device) - length) % period  # the last step has phase period - 1
    sums = torch.zeros(flat.shape[0], length, dtype=values.dtype, device=values.device).scatter_add(1, phase, detrended)
    counts = torch.zeros_like(sums).scatter_add(1, phase, seen)
    valid = torch.arange(length, device=values.device) < period  # phases that exist for the row
    profile = torch.where(counts > 0, sums / counts.clamp_min(1.0), torch.zeros_like(sums))
    profile = (profile - (profile * valid).sum(-1, keepdim=True) / period) * valid
    fewest = torch.where(valid, counts, torch.full_like(counts, float(min_seasons))).amin(-1, keepdim=True)
    usable = (period > 1) & (season <= length) & (fewest >= min_seasons)
    steps = torch.arange(horizon, device=values.device) % period
    change = profile.gather(1, steps) - profile.gather(1, period - 1)
    return last + (change * usable).reshape(*shape[:-1], horizon)


def baseline(cfg: ForecastModelConfig, values: Tensor, observed: Tensor, season: Tensor | None) -> Tensor:
    """The ``[..., max_horizon]`` forecast (normalised) that a model's heads predict a residual over:
    naive (the last value keeps trending series anchored to their level), seasonal naive, or the
    last value moved by a smoothed seasonal profile."""
    if cfg.skip == "profile":
        return seasonal_profile_naive(values, observed, season, cfg.max_horizon, cfg.profile_min_seasons)
    return seasonal_naive(values, observed, season if cfg.skip == "seasonal" else None, cfg.max_horizon)


def denormalise(normalised: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    """Map ``[..., H, Q]`` normalised outputs back with per-row ``mean``/``std`` (``[..., 1]``)."""
    return normalised * std.unsqueeze(-1) + mean.unsqueeze(-1)


class PatchAdapter(Adapter):
    """Normalised context ``[B, L]`` -> patch tokens ``[B, N, D]`` (padding = unobserved patches)."""

    def __init__(self, cfg: ForecastModelConfig):
        super().__init__()
        self.cfg = cfg
        self.output_dim = cfg.encoder.d_model
        self.embed = nn.Linear(2 * cfg.patch_len, cfg.encoder.d_model)

    def forward(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        values = batch["values"].unfold(-1, self.cfg.patch_len, self.cfg.stride)
        seen = batch["observed"].to(values.dtype).unfold(-1, self.cfg.patch_len, self.cfg.stride)
        tokens = self.embed(torch.cat([values, seen], dim=-1))
        return tokens, seen.sum(-1) == 0


class PatchTST(nn.Module):
    """Channel-independent patch transformer with a quantile flatten head."""

    def __init__(self, cfg: ForecastModelConfig):
        super().__init__()
        self.cfg = cfg
        self.adapter = PatchAdapter(cfg)
        self.encoder = Encoder(cfg.encoder)
        self.head = nn.Sequential(nn.Dropout(cfg.encoder.dropout),
                                  nn.Linear(cfg.num_patches * cfg.encoder.d_model, cfg.max_horizon * len(cfg.quantiles)))

    def forward(self, context: Tensor, observed: Tensor, season: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``context``/``observed`` ``[B, L]`` (``season`` ``[B]``, each row's season length) ->
        normalised quantiles ``[B, H, Q]``, mean, std."""
        values, mean, std = instance_norm(context, observed)
        tokens, padding = self.adapter({"values": values, "observed": observed})
        hidden = self.encoder(tokens, padding) * (~padding).unsqueeze(-1)
        out = self.head(hidden.flatten(1)).view(-1, self.cfg.max_horizon, len(self.cfg.quantiles))
        return out + baseline(self.cfg, values, observed, season)[..., None], mean, std


class ITransformer(nn.Module):
    """Variate tokens: ``[B, V, L]`` panels -> ``[B, V, H, Q]`` (``variate_mask`` True = padding variate)."""

    def __init__(self, cfg: ForecastModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.encoder.d_model
        self.embed = nn.Linear(2 * cfg.lookback, d)
        encoder_cfg = config_from_dict(TransformerConfig, {**config_to_dict(cfg.encoder), "position": "none"})
        self.encoder = Encoder(encoder_cfg)
        self.head = nn.Linear(d, cfg.max_horizon * len(cfg.quantiles))

    def forward(self, context: Tensor, observed: Tensor, variate_mask: Tensor | None = None,
                season: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """``[B, V, L]`` panels (``season`` ``[B]``, one per panel) -> ``[B, V, H, Q]``, mean, std."""
        values, mean, std = instance_norm(context, observed)
        tokens = self.embed(torch.cat([values, observed.to(values.dtype)], dim=-1))
        hidden = self.encoder(tokens, variate_mask)
        b, v, _ = context.shape
        out = self.head(hidden).view(b, v, self.cfg.max_horizon, len(self.cfg.quantiles))
        return out + baseline(self.cfg, values, observed, season)[..., None], mean, std


def pinball_loss(pred: Tensor, target: Tensor, quantiles: list[float], mask: Tensor | None = None) -> Tensor:
    """Mean quantile (pinball) loss; ``pred`` ``[..., H, Q]``, ``target`` ``[..., H]``."""
    q = torch.tensor(quantiles, dtype=pred.dtype, device=pred.device)
    diff = target.unsqueeze(-1) - pred
    loss = torch.maximum(q * diff, (q - 1) * diff)
    if mask is None:
        return loss.mean()
    weight = mask.unsqueeze(-1).to(loss.dtype).expand_as(loss)
    return (loss * weight).sum() / weight.sum().clamp_min(1.0)


class ForecastEnsemble(nn.Module):
    """Averages the normalised quantile outputs of independently trained members.

    Members share the instance normalisation (it depends only on the input), so
    averaging normalised outputs equals averaging forecasts.
    """

    def __init__(self, cfg: ForecastModelConfig):
        super().__init__()
        self.cfg = cfg
        single = config_from_dict(ForecastModelConfig, {**config_to_dict(cfg), "members": 1})
        self.members = nn.ModuleList(build_model(single) for _ in range(cfg.members))

    def forward(self, context: Tensor, observed: Tensor, **extra: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        outs = [member(context, observed, **extra) for member in self.members]
        return torch.stack([o[0] for o in outs]).mean(0), outs[0][1], outs[0][2]


def build_model(cfg: ForecastModelConfig) -> nn.Module:
    if cfg.members > 1:
        return ForecastEnsemble(cfg)
    return PatchTST(cfg) if cfg.kind == "patchtst" else ITransformer(cfg)


@register_builder("forecasting")
def _builder(config: dict[str, Any], tokenizer: Any = None) -> nn.Module:
    return build_model(config_from_dict(ForecastModelConfig, config))
