"""The OCR line model on the shared core.

A convolutional stem turns a line image of any width into a sequence of column
tokens (the height is pooled away; one token per ``column_stride`` pixel columns
of the height-normalised line), the
shared :class:`~shared.models.Encoder` reads the sequence, and a CTC head emits
characters. With ``decoder_layers > 0`` a cross-attending decoder is trained
jointly with CTC and decodes with the core's ``generate()`` and beam search
(the TrOCR-style encoder-decoder variant). The model keeps its input height in
its config, so a model folder is all that reading needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from shared.config import config_from_dict
from shared.model_folder import register_builder
from shared.models import TransformerConfig
from shared.models.adapters import Adapter
from shared.models.ctc_recognizer import CTCRecognizer
from shared.tokenizers import Tokenizer

@dataclass
class OcrModelConfig:
    vocab_size: int = 0  # the character tokenizer's; id 0 (<pad>) is the CTC blank
    height: int = 32  # input line height in pixels (a multiple of 8)
    max_width: int = 1600  # wider lines are squeezed to this width
    column_stride: int = 2  # pixel columns per token, 2 or 4 (tall, narrow hands need 2 for CTC's room)
    channels: tuple[int, int, int] = (24, 48, 96)
    d_model: int = 144
    n_heads: int = 4
    layers: int = 4
    d_ff: int = 576
    dropout: float = 0.0  # lines are drawn fresh with heavy augmentation; dropout costs ~15% of a CPU step
    position: str = "rotary"
    decoder_layers: int = 0  # > 0: a TrOCR-style attention decoder trained jointly with CTC
    max_len: int = 1024


def _conv(c_in: int, c_out: int, pool: tuple[int, int] | None, stride: int = 1) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, *([nn.MaxPool2d(pool, pool)] if pool else []))


class ColumnStem(Adapter):
    """``{"images": [B, 1, H, W], "widths": [B]}`` -> ``(tokens [B, W/s, D], padding [B, W/s])``, s the stride."""

    def __init__(self, cfg: OcrModelConfig):
        super().__init__()
        if cfg.column_stride not in (2, 4):
            raise ValueError(f"column_stride must be 2 or 4, got {cfg.column_stride}")
        c1, c2, c3 = cfg.channels
        self.output_dim = cfg.d_model
        self.stride = cfg.column_stride
        self.convs = nn.Sequential(_conv(1, c1, (2, 2)), _conv(c1, c2, (2, 2 if self.stride == 4 else 1)),
                                   _conv(c2, c3, (2, 1)))
        rows = cfg.height // 8
        self.project = nn.Sequential(nn.Linear(c3 * rows, cfg.d_model), nn.Dropout(cfg.dropout))

    def forward(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        features = self.convs(batch["images"])  # [B, C, H/8, W/stride]
        b, c, h, w = features.shape
        tokens = self.project(features.permute(0, 3, 1, 2).reshape(b, w, c * h))
        lengths = torch.clamp(batch["widths"] // self.stride, min=1, max=w)
        return tokens, torch.arange(w)[None, :] >= lengths[:, None]


class LineRecognizerModel(CTCRecognizer):
    """Line image -> characters: column stem -> shared encoder -> CTC (+ optional attention decoder)."""

    def __init__(self, cfg: OcrModelConfig):
        if cfg.vocab_size <= 4:
            raise ValueError("an OCR model needs a vocabulary (vocab_size > 4)")
        if cfg.height % 8:
            raise ValueError(f"height must be a multiple of 8, got {cfg.height}")
        core = TransformerConfig(d_model=cfg.d_model, n_heads=cfg.n_heads, encoder_layers=cfg.layers,
                                 decoder_layers=max(cfg.decoder_layers, 1), d_ff=cfg.d_ff, dropout=cfg.dropout,
                                 position=cfg.position, max_len=cfg.max_len, vocab_size=cfg.vocab_size)
        super().__init__(ColumnStem(cfg), core, with_decoder=cfg.decoder_layers > 0)
        self.cfg = cfg


@register_builder("ocr-line")
def _build(config: dict[str, Any], tokenizer: Tokenizer | None) -> nn.Module:
    return LineRecognizerModel(config_from_dict(OcrModelConfig, config))
