"""A dense vision transformer for segmentation and detection, trained from scratch.

The recipe is the Compact Convolutional Transformer's (Hassani et al., 2021):
a small convolutional tokenizer turns the image into tokens at 1/8 resolution
(it supplies the locality and translation bias a ViT lacks on small data), and
the shared core's :class:`~shared.models.encoder.Encoder` mixes them globally.
Tokens carry a fixed 2D sinusoidal position (added in the adapter, so any
image size works); the encoder itself adds none.

``model.backbone`` swaps that tokenizer for any timm model, built with
``timm.create_model(name, features_only=True, pretrained=False)``: its coarsest
feature map becomes the tokens (a 1x1 projection to the encoder width) and its
finer maps are the decoder's skips. It needs a map at 1/4 resolution (most
CNNs have one). ``model.backbone_weights`` loads a timm checkpoint the user has
on disk into it when training starts (never from the network).

The decoder is TransUNet-style (Chen et al., 2021): the encoded grid is
upsampled and joined with the tokenizer's feature maps, from coarse to fine
(1/4, 1/2 and full resolution for the convolutional tokenizer; ``decoder_stride`` stops it
earlier, for speed). Two heads read it:

- **segmentation**: per-pixel class logits at full resolution (class 0 is
  background);
- **detection**: an anchor-free dense head at 1/4 resolution in the
  TTFNet style (Liu et al., 2020): a per-class centre heatmap and, at every
  cell, the distances to the four box edges. It converges in few steps,
  which matters on a CPU budget. With ``iou_aware`` a third map predicts, at
  every cell, the IoU of its box with the object's (trained where boxes are
  regressed), and detection scores become ``heat ** (1 - a) * iou ** a``.
  With ``box_bins`` each edge distance is a distribution over ``box_bins`` values
  0, 4, 8, ... pixels (Generalized Focal Loss's distribution-style regression, Li et
  al., 2020, as YOLOv8 uses) and the box takes its expected value.

Instance masks (nuclei) come from the two heads together: detected centres
seed a watershed over the predicted foreground (see :mod:`apps.vision.predict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared.config import config_from_dict
from shared.errors import ConfigError
from shared.layers.positional import sinusoidal_table_2d
from shared.model_folder import register_builder
from shared.models.config import TransformerConfig
from shared.models.encoder import Encoder

STRIDE = 8  # image pixels per token side (the convolutional tokenizer; a timm backbone's is its coarsest stride)
DET_STRIDE = 4  # image pixels per detection cell side


@dataclass
class VisionModelConfig:
    # segment (class masks), detect (boxes) or both (single-class models also give instance masks)
    task: Literal["both", "segment", "detect"] = "both"
    backbone: str = "conv"  # "conv" (the convolutional tokenizer) or a timm model name, e.g. resnet18
    backbone_weights: str = ""  # a timm checkpoint on disk (.safetensors or .pth) loaded when training starts
    d_model: int = 128
    n_heads: int = 4
    layers: int = 4
    d_ff: int = 256
    dropout: float = 0.0
    drop_path: float = 0.0  # stochastic depth of the encoder's last block (rising linearly from 0)
    stem_channels: list[int] = field(default_factory=lambda: [16, 32, 64])  # at 1/1, 1/2, 1/4 resolution
    decoder_channels: int = 64
    # the finest stride the decoder reaches (1, 2 or 4): skips finer than it are left out and the
    # segmentation logits are upsampled from it; 2 drops the full-resolution stage, the costliest
    decoder_stride: int = 1
    num_classes: int = 2  # semantic classes, background included
    num_det_classes: int = 1
    class_names: list[str] = field(default_factory=lambda: ["background", "object"])
    box_scale: float = 16.0  # box-edge distances are predicted in units of this many pixels
    iou_aware: bool = False  # predict each cell's box IoU and fold it into the detection score
    # 0: each box edge's distance is regressed directly (softplus x box_scale); n > 0: a distribution
    # over n distances 0, 4, ..., 4(n-1) pixels (GFL/DFL), the box at its expectation
    box_bins: int = 0

    def __post_init__(self) -> None:
        if len(self.stem_channels) != 3:
            raise ValueError("stem_channels needs three widths (full, 1/2 and 1/4 resolution)")
        if self.decoder_stride not in (1, 2, 4):
            raise ValueError(f"decoder_stride must be 1, 2 or 4 (the detection head reads stride 4), got {self.decoder_stride}")
        if self.box_bins == 1 or self.box_bins < 0:
            raise ValueError(f"box_bins must be 0 (direct regression) or at least 2, got {self.box_bins}")
        if self.num_classes < 2 or self.num_det_classes < 1:
            raise ValueError("num_classes must be >= 2 (background + one) and num_det_classes >= 1")


def conv_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, GELU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.GELU())


def grid_tokens(grid: Tensor) -> tuple[Tensor, tuple[int, int]]:
    """A ``[B, D, h, w]`` map as tokens ``[B, h*w, D]`` with fixed 2D sinusoidal positions added."""
    _, d, h, w = grid.shape
    return grid.flatten(2).transpose(1, 2) + sinusoidal_table_2d(h, w, d).to(grid), (h, w)


class ConvTokenizer(nn.Module):
    """Image ``[B, 3, H, W]`` -> feature maps at 1/1, 1/2, 1/4 and tokens at 1/8 with 2D positions.

    Every tokenizer has ``skip_strides`` / ``skip_channels`` (its feature maps, finest first) and
    ``stride`` (the token grid's)."""

    def __init__(self, cfg: VisionModelConfig):
        super().__init__()
        c1, c2, c4 = cfg.stem_channels
        self.stage1 = conv_block(3, c1)
        self.stage2 = nn.Sequential(conv_block(c1, c2, 2), conv_block(c2, c2))
        self.stage4 = nn.Sequential(conv_block(c2, c4, 2), conv_block(c4, c4))
        self.to_tokens = nn.Conv2d(c4, cfg.d_model, 3, 2, 1)
        self.skip_strides, self.skip_channels, self.stride = [1, 2, 4], [c1, c2, c4], STRIDE

    def forward(self, image: Tensor) -> tuple[list[Tensor], Tensor, tuple[int, int]]:
        f1 = self.stage1(image)
        f2 = self.stage2(f1)
        f4 = self.stage4(f2)
        tokens, hw = grid_tokens(self.to_tokens(f4))
        return [f1, f2, f4], tokens, hw


def backbone_state(name: str, path: str) -> dict[str, Tensor]:
    """The weights of timm model ``name`` in the checkpoint at ``path`` (safetensors, or a torch file
    read with ``weights_only``), its classifier dropped. Every backbone tensor must be there: timm
    alone would load a feature extractor leniently and leave what is missing at random."""
    import timm
    from timm.models import load_state_dict

    if not os.path.isfile(path):
        raise ConfigError(f"model.backbone_weights: no file {path}")
    try:
        state = load_state_dict(path, weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same one-line error
        raise ConfigError(f"model.backbone_weights {path}: not a readable checkpoint ({err})") from None
    reference = timm.create_model(name, pretrained=False, num_classes=0)
    classifier = reference.pretrained_cfg.get("classifier") or ()
    heads = (classifier,) if isinstance(classifier, str) else tuple(classifier)
    state = {k: v for k, v in state.items() if not k.startswith(tuple(f"{h}." for h in heads))}
    missing, _ = reference.load_state_dict(state, strict=False)
    if missing:
        raise ConfigError(f"model.backbone_weights {path}: {len(missing)} of the {name} backbone's tensors are "
                          f"not in it (first: {missing[0]}); is it a {name} checkpoint?")
    return state


class TimmTokenizer(nn.Module):
    """A timm model's feature pyramid: its coarsest map projected to tokens, the finer maps as skips.

    ``weights``: a timm checkpoint file (:func:`backbone_state`), handed to timm's own loader
    (``pretrained_cfg_overlay``), which maps it onto the feature extractor; nothing is fetched. The input is re-normalised from
    ours to the mean and standard deviation the model's pretrained config names."""

    def __init__(self, cfg: VisionModelConfig, weights: str | None = None):
        super().__init__()
        import timm

        if not timm.is_model(cfg.backbone):
            raise ConfigError(f"model.backbone: timm has no model {cfg.backbone!r} (see timm.list_models())")
        options: dict = {"features_only": True, "pretrained": False}
        if weights:
            options.update(pretrained=True, pretrained_cfg_overlay={"state_dict": backbone_state(cfg.backbone, weights)})
        try:
            self.body = timm.create_model(cfg.backbone, **options)
        except (RuntimeError, KeyError, ValueError) as err:
            raise ConfigError(f"model.backbone {cfg.backbone}: {str(err).splitlines()[0]}") from None
        strides, channels = self.body.feature_info.reduction(), self.body.feature_info.channels()
        if DET_STRIDE not in strides[:-1]:
            raise ConfigError(f"model.backbone {cfg.backbone}: its feature maps are at strides {strides}; "
                              f"the detection head needs one at {DET_STRIDE} below the coarsest")
        if any(a >= b for a, b in zip(strides, strides[1:])):
            raise ConfigError(f"model.backbone {cfg.backbone}: its feature maps must get coarser, got strides {strides}")
        self.skip_strides, self.skip_channels, self.stride = strides[:-1], channels[:-1], strides[-1]
        self.to_tokens = nn.Conv2d(channels[-1], cfg.d_model, 1)
        pretrained = getattr(self.body, "pretrained_cfg", None) or {}
        mean = torch.tensor(pretrained.get("mean", (0.5, 0.5, 0.5)), dtype=torch.float32)
        std = torch.tensor(pretrained.get("std", (0.25, 0.25, 0.25)), dtype=torch.float32)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)

    def forward(self, image: Tensor) -> tuple[list[Tensor], Tensor, tuple[int, int]]:
        features = self.body((image * 0.25 + 0.5 - self.mean) / self.std)  # ours -> [0, 1] -> the model's
        tokens, hw = grid_tokens(self.to_tokens(features[-1]))
        return features[:-1], tokens, hw


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
    iou: Tensor | None = None  # logits of each cell's box IoU ``[B, 1, H/4, W/4]`` (``iou_aware`` models)
    box_logits: Tensor | None = None  # ``box_bins`` models: ``[B, 4, bins, H/4, W/4]``, what ``box`` is the mean of


class DenseVisionTransformer(nn.Module):
    """Tokenizer (convolutional or timm) + shared transformer encoder + U-shaped decoder + heads.

    ``backbone_weights`` (a timm checkpoint path) is read by training only; a saved model folder
    holds the whole model's weights."""

    def __init__(self, cfg: VisionModelConfig, backbone_weights: str | None = None):
        super().__init__()
        self.cfg = cfg
        dec = cfg.decoder_channels
        self.tokenizer = ConvTokenizer(cfg) if cfg.backbone == "conv" else TimmTokenizer(cfg, backbone_weights)
        self.stride = self.tokenizer.stride  # image sides must be multiples of this
        core = TransformerConfig(d_model=cfg.d_model, n_heads=cfg.n_heads, encoder_layers=cfg.layers, d_ff=cfg.d_ff,
                                 dropout=cfg.dropout, drop_path=cfg.drop_path, position="none")
        self.encoder = Encoder(core)
        # One up-block per skip, coarse to fine, named by stride (up4, up2, up1 for the conv tokenizer).
        # Skip strides rise, so the decoder's are a suffix: the tokenizer's finer maps are left out.
        self.first_skip = next(i for i, s in enumerate(self.tokenizer.skip_strides) if s >= cfg.decoder_stride)
        self.skip_strides = list(self.tokenizer.skip_strides[self.first_skip:])
        width = cfg.d_model
        for stride, channels in zip(reversed(self.skip_strides), reversed(self.tokenizer.skip_channels[self.first_skip:]),
                                    strict=True):
            out = dec if stride >= DET_STRIDE else dec // 2
            self.add_module(f"up{stride}", UpBlock(width, channels, out))
            width = out
        self.seg_head = nn.Conv2d(width, cfg.num_classes, 1)
        self.heat_head = nn.Sequential(conv_block(dec, dec), nn.Conv2d(dec, cfg.num_det_classes, 1))
        self.box_head = nn.Sequential(conv_block(dec, dec), nn.Conv2d(dec, 4 * max(cfg.box_bins, 1), 1))
        self.iou_head = nn.Sequential(conv_block(dec, dec), nn.Conv2d(dec, 1, 1)) if cfg.iou_aware else None
        nn.init.constant_(self.heat_head[-1].bias, -4.6)  # start every cell at p = 0.01 (focal-loss prior)

    def forward(self, image: Tensor) -> DenseOutputs:
        """``image`` float ``[B, 3, H, W]`` (normalised, H and W multiples of :attr:`stride`)."""
        if image.shape[-1] % self.stride or image.shape[-2] % self.stride:
            raise ValueError(f"image sides must be multiples of {self.stride}, got {tuple(image.shape[-2:])}")
        skips, tokens, (h, w) = self.tokenizer(image)
        x = self.encoder(tokens).transpose(1, 2).reshape(image.shape[0], -1, h, w)
        p4 = None
        for stride, skip in zip(reversed(self.skip_strides), reversed(skips[self.first_skip:]), strict=True):
            x = getattr(self, f"up{stride}")(x, skip)
            if stride == DET_STRIDE:
                p4 = x
        seg = self.seg_head(x)
        if seg.shape[-2:] != image.shape[-2:]:
            seg = F.interpolate(seg, size=image.shape[-2:], mode="bilinear", align_corners=False)
        iou = self.iou_head(p4) if self.iou_head is not None else None
        raw, logits = self.box_head(p4), None
        if self.cfg.box_bins:
            logits = raw.unflatten(1, (4, self.cfg.box_bins))
            box = (logits.softmax(2) * bin_distances(self.cfg.box_bins).to(raw)[:, None, None]).sum(2)
        else:
            box = F.softplus(raw) * self.cfg.box_scale
        return DenseOutputs(seg=seg, heat=self.heat_head(p4), box=box, iou=iou, box_logits=logits)


def bin_distances(bins: int) -> Tensor:
    """The edge distances, in pixels, that a ``box_bins`` model's distribution is over: 0, 4, 8, ..."""
    return torch.arange(bins, dtype=torch.float32) * DET_STRIDE


def normalise(images: Tensor) -> Tensor:
    """``uint8 [B, H, W, 3]`` -> float ``[B, 3, H, W]`` roughly zero-mean, unit-variance."""
    return (images.permute(0, 3, 1, 2).float() / 255.0 - 0.5) / 0.25


@register_builder("vision-dense")
def _builder(config: dict[str, Any], tokenizer: Any = None) -> nn.Module:
    return DenseVisionTransformer(config_from_dict(VisionModelConfig, config))
