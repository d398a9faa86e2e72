"""Transformer building blocks, one concern per module."""

from shared.layers.attention import MultiHeadAttention
from shared.layers.block import TransformerBlock
from shared.layers.kv_cache import KVCache, LayerKVCache, StaticKV
from shared.layers.masks import build_attention_mask, causal_mask, lengths_to_padding_mask
from shared.layers.mlp import GeluMlp, SwiGluMlp, make_mlp
from shared.layers.norm import make_norm
from shared.layers.positional import ALiBi, LearnedPosition, RotaryEmbedding, SinusoidalPosition

__all__ = [
    "ALiBi",
    "GeluMlp",
    "KVCache",
    "LayerKVCache",
    "LearnedPosition",
    "MultiHeadAttention",
    "RotaryEmbedding",
    "SinusoidalPosition",
    "StaticKV",
    "SwiGluMlp",
    "TransformerBlock",
    "build_attention_mask",
    "causal_mask",
    "lengths_to_padding_mask",
    "make_mlp",
    "make_norm",
]
