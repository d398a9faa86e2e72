"""The typed config every core model is built from."""

from __future__ import annotations

from dataclasses import dataclass

from shared.layers.mlp import MlpKind
from shared.layers.norm import NormKind
from shared.layers.positional import PositionKind


@dataclass
class TransformerConfig:
    """Dimensions and options of an encoder, decoder or encoder-decoder.

    ``vocab_size`` is the target (decoder) vocabulary; ``source_vocab_size``
    is used when the encoder reads token ids (0 = share ``vocab_size``).
    Special ids follow :mod:`shared.tokenizers`: pad 0, bos 1, eos 2.
    """

    d_model: int = 256
    n_heads: int = 4
    encoder_layers: int = 4
    decoder_layers: int = 4
    d_ff: int = 1024
    dropout: float = 0.1
    attention_dropout: float = 0.0
    drop_path: float = 0.0  # stochastic depth of the last block; earlier blocks rise linearly from 0
    norm: NormKind = "layernorm"
    mlp: MlpKind = "gelu"
    position: PositionKind = "sinusoidal"
    max_len: int = 2048
    bias: bool = True
    vocab_size: int = 0
    source_vocab_size: int = 0
    tie_embeddings: bool = True
    pad_id: int = 0
    bos_id: int = 1
    eos_id: int = 2

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if self.position == "rotary" and (self.d_model // self.n_heads) % 2:
            raise ValueError("rotary positions need an even head dimension")
        if not all(0.0 <= p < 1.0 for p in (self.dropout, self.attention_dropout, self.drop_path)):
            raise ValueError("dropout, attention_dropout and drop_path must be in [0, 1)")
