"""A dense vision transformer for segmentation and detection, trained from scratch.

The recipe is the Compact Convolutional Transformer's (Hassani et al., 2021):
a small convolutional tokenizer turns the image into tokens at 1/8 resolution
(it supplies the locality and translation bias a ViT lacks on small data), and
the shared core's :class:`~shared.models.encoder.Encoder` mixes them globally.
Tokens carry a fixed 2D sinusoidal position (added in the adapter, so any
image size works); the encoder itself adds none.

The decoder is TransUNet-style (Chen et al., 2021): the encoded grid is
upsampled and joined with the tokenizer's own feature maps at 1/4, 1/2 and
full resolution. Two heads read it:

- **segmentation**: per-pixel class logits at full resolution (class 0 is
  background);
- **detection**: an anchor-free dense head at 1/4 resolution in the
  TTFNet style (Liu et al., 2020): a per-class centre heatmap and, at every
  cell, the distances to the four box edges. It converges in few steps,
  which matters on a CPU budget.

Instance masks (nuclei) come from the two heads together: detected centres
seed a watershed over the predicted foreground (see :mod:`apps.vision.predict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared.config import config_from_dict
from shared.layers.positional import sinusoidal_table_2d
from shared.model_folder import register_builder
from shared.models.config import TransformerConfig
from shared.models.encoder import Encoder

STRIDE = 8  # image pixels per token side
DET_STRIDE = 4  # image pixels per detection cell side


@dataclass
class VisionModelConfig:
    # segment (class masks), detect (boxes) or both (single-class models also give instance masks)
    task: Literal["both", "segment", "detect"] = "both"
    d_model: int = 128
    n_heads: int = 4
    layers: int = 4
    d_ff: int = 256
    dropout: float = 0.0
    stem_channels: list[int] = field(default_factory=lambda: [16, 32, 64])  # at 1/1, 1/2, 1/4 resolution
    decoder_channels: int = 64
    num_classes: int = 2  # semantic classes, background included
    num_det_classes: int = 1
    class_names: list[str] = field(default_factory=lambda: ["background", "object"])
    box_scale: float = 16.0  # box-edge distances are predicted in units of this many pixels

    def __post_init__(self) -> None:
        if len(self.stem_channels) != 3:
            raise ValueError("stem_channels needs three widths (full, 1/2 and 1/4 resolution)")
        if self.num_classes < 2 or self.num_det_classes < 1:
            raise ValueError("num_classes must be >= 2 (background + one) and num_det_classes >= 1")


def conv_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, GELU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.GELU())


class ConvTokenizer(nn.Module):
    """Image ``[B, 3, H, W]`` -> feature maps at 1/1, 1/2, 1/4 and tokens at 1/8 with 2D positions."""

    def __init__(self, cfg: VisionModelConfig):
        super().__init__()
        c1, c2, c4 = cfg.stem_channels
        self.stage1 = conv_block(3, c1)
        self.stage2 = nn.Sequential(conv_block(c1, c2, 2), conv_block(c2, c2))
        self.stage4 = nn.Sequential(conv_block(c2, c4, 2), conv_block(c4, c4))
        self.to_tokens = nn.Conv2d(c4, cfg.d_model, 3, 2, 1)
        self.output_dim = cfg.d_model

    def forward(self, image: Tensor) -> tuple[list[Tensor], Tensor, tuple[int, int]]:
        f1 = self.stage1(image)
        f2 = self.stage2(f1)
        f4 = self.stage4(f2)
        grid = self.to_tokens(f4)
        b, d, h, w = grid.shape
        tokens = grid.flatten(2).transpose(1, 2) + sinusoidal_table_2d(h, w, d).to(grid)
        return [f1, f2, f4], tokens, (h, w)


class UpBlock(nn.Module):
    """Upsample x2, join a skip connection, two conv blocks."""

    def __init__(self, c_in: int, c_skip: int, c_out: int):
        super().__init__()
        self.convs = nn.Sequential(conv_block(c_in + c_skip, c_out), conv_block(c_out, c_out))

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([x, skip], dim=1))


@dataclass
class DenseOutputs:
    """Raw head outputs: ``seg`` logits ``[B, C, H, W]``; ``heat`` logits ``[B, K, H/4, W/4]``;
    ``box`` edge distances in pixels ``[B, 4, H/4, W/4]`` (left, top, right, bottom)."""

    seg: Tensor
    heat: Tensor
    box: Tensor


class DenseVisionTransformer(nn.Module):
    """Conv tokenizer + shared transformer encoder + U-shaped decoder + segmentation/detection heads."""

    def __init__(self, cfg: VisionModelConfig):
        super().__init__()
        self.cfg = cfg
        c1, c2, c4 = cfg.stem_channels
        dec = cfg.decoder_channels
        self.tokenizer = ConvTokenizer(cfg)
        core = TransformerConfig(d_model=cfg.d_model, n_heads=cfg.n_heads, encoder_layers=cfg.layers, d_ff=cfg.d_ff,
                                 dropout=cfg.dropout, position="none")
        self.encoder = Encoder(core)
        self.up4 = UpBlock(cfg.d_model, c4, dec)
        self.up2 = UpBlock(dec, c2, dec // 2)
        self.up1 = UpBlock(dec // 2, c1, dec // 2)
        self.seg_head = nn.Conv2d(dec // 2, cfg.num_classes, 1)
        self.heat_head = nn.Sequential(conv_block(dec, dec), nn.Conv2d(dec, cfg.num_det_classes, 1))
        self.box_head = nn.Sequential(conv_block(dec, dec), nn.Conv2d(dec, 4, 1))
        nn.init.constant_(self.heat_head[-1].bias, -4.6)  # start every cell at p = 0.01 (focal-loss prior)

    def forward(self, image: Tensor) -> DenseOutputs:
        """``image`` float ``[B, 3, H, W]`` (normalised, H and W multiples of 8)."""
        if image.shape[-1] % STRIDE or image.shape[-2] % STRIDE:
            raise ValueError(f"image sides must be multiples of {STRIDE}, got {tuple(image.shape[-2:])}")
        (f1, f2, f4), tokens, (h, w) = self.tokenizer(image)
        encoded = self.encoder(tokens)
        grid = encoded.transpose(1, 2).reshape(image.shape[0], -1, h, w)
        p4 = self.up4(grid, f4)
        p1 = self.up1(self.up2(p4, f2), f1)
        box = F.softplus(self.box_head(p4)) * self.cfg.box_scale
        return DenseOutputs(seg=self.seg_head(p1), heat=self.heat_head(p4), box=box)


def normalise(images: Tensor) -> Tensor:
    """``uint8 [B, H, W, 3]`` -> float ``[B, 3, H, W]`` roughly zero-mean, unit-variance."""
    return (images.permute(0, 3, 1, 2).float() / 255.0 - 0.5) / 0.25


@register_builder("vision-dense")
def _builder(config: dict[str, Any], tokenizer: Any = None) -> nn.Module:
    return DenseVisionTransformer(config_from_dict(VisionModelConfig, config))
