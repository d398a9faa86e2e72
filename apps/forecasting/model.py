"""Forecasting models on the shared core, with quantile outputs.

* :class:`PatchTST` (Nie et al., 2023): each series on its own (channel
  independence), instance-normalised, cut into patches that become tokens of
  the shared encoder; a flatten head predicts every horizon step and quantile.
* :class:`ITransformer` (Liu et al., 2024): each *variate*'s whole lookback
  window is one token, so attention mixes variates of a panel.

Both see left-padded contexts with an ``observed`` mask, so series shorter
than the lookback still work, and both predict ``[B, (V,) H, Q]`` quantiles
in the normalised space; :func:`denormalise` maps them back.
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
    encoder: TransformerConfig = field(
        default_factory=lambda: TransformerConfig(d_model=64, n_heads=4, encoder_layers=3, d_ff=128, dropout=0.1, position="learned", max_len=256)
    )

    def __post_init__(self) -> None:
        if 0.5 not in self.quantiles:
            raise ValueError("quantiles must include 0.5 (the point forecast)")
        if self.patch_len > self.lookback:
            raise ValueError("patch_len cannot exceed lookback")

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
    """The last (always observed: contexts are left-padded) normalised value of each row.

    Heads predict the deviation from it, i.e. a residual over the naive forecast,
    which keeps forecasts of trending series anchored to the current level.
    """
    return values[..., -1]


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

    def forward(self, context: Tensor, observed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``context``/``observed`` ``[B, L]`` -> normalised quantiles ``[B, H, Q]``, mean, std."""
        values, mean, std = instance_norm(context, observed)
        tokens, padding = self.adapter({"values": values, "observed": observed})
        hidden = self.encoder(tokens, padding) * (~padding).unsqueeze(-1)
        out = self.head(hidden.flatten(1)).view(-1, self.cfg.max_horizon, len(self.cfg.quantiles))
        return out + last_value(values)[:, None, None], mean, std


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

    def forward(self, context: Tensor, observed: Tensor, variate_mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        values, mean, std = instance_norm(context, observed)
        tokens = self.embed(torch.cat([values, observed.to(values.dtype)], dim=-1))
        hidden = self.encoder(tokens, variate_mask)
        b, v, _ = context.shape
        out = self.head(hidden).view(b, v, self.cfg.max_horizon, len(self.cfg.quantiles))
        return out + last_value(values)[..., None, None], mean, std


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

    def forward(self, context: Tensor, observed: Tensor, *extra: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        outs = [member(context, observed, *extra) for member in self.members]
        return torch.stack([o[0] for o in outs]).mean(0), outs[0][1], outs[0][2]


def build_model(cfg: ForecastModelConfig) -> nn.Module:
    if cfg.members > 1:
        return ForecastEnsemble(cfg)
    return PatchTST(cfg) if cfg.kind == "patchtst" else ITransformer(cfg)


@register_builder("forecasting")
def _builder(config: dict[str, Any], tokenizer: Any = None) -> nn.Module:
    return build_model(config_from_dict(ForecastModelConfig, config))
