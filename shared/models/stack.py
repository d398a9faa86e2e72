"""A stack of transformer blocks with its position scheme and masks.

Both :class:`~shared.models.encoder.Encoder` and
:class:`~shared.models.decoder.Decoder` run one of these; it is the single
place where padding, causality, positions and the KV cache meet.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from shared.layers.block import TransformerBlock
from shared.layers.kv_cache import KVCache
from shared.layers.masks import build_attention_mask
from shared.layers.norm import make_norm
from shared.layers.positional import ALiBi, RotaryEmbedding, make_additive_position
from shared.models.config import TransformerConfig


class TransformerStack(nn.Module):
    """``num_layers`` pre-norm blocks plus positions and a final norm."""

    def __init__(self, cfg: TransformerConfig, num_layers: int, causal: bool, cross_attention: bool,
                 interleaved: Sequence[nn.Module] | None = None):
        super().__init__()
        if interleaved is not None and len(interleaved) != num_layers:
            raise ValueError(f"{len(interleaved)} interleaved modules for {num_layers} layers")
        self.causal = causal
        head_dim = cfg.d_model // cfg.n_heads
        self.additive_position = make_additive_position(cfg.position, cfg.d_model, cfg.max_len)
        self.rotary = RotaryEmbedding(head_dim, max_len=cfg.max_len) if cfg.position == "rotary" else None
        self.alibi = ALiBi(cfg.n_heads) if cfg.position == "alibi" else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(
            TransformerBlock(
                cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, cfg.attention_dropout,
                cfg.norm, cfg.mlp, cfg.bias, cross_attention, rate,
            )
            for rate in drop_path_rates(cfg.drop_path, num_layers)
        )
        # Optional residual modules run after each block as x + m(x, padding_mask), e.g. the
        # convolution modules of a Conformer; encoder-only (they see the whole sequence).
        self.interleaved = nn.ModuleList(interleaved) if interleaved is not None else None
        self.final_norm = make_norm(cfg.norm, cfg.d_model)

    def forward(
        self,
        x: Tensor,
        padding_mask: Tensor | None = None,
        memory: Tensor | None = None,
        memory_padding_mask: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Run the blocks over ``x`` ``[B, T, D]``; with a cache, ``x`` holds only new positions."""
        t = x.shape[1]
        offset = cache.length if cache is not None else 0
        # Masks with nothing masked would keep SDPA off its faster unmasked path.
        if padding_mask is not None and not bool(padding_mask.any()):
            padding_mask = None
        if memory_padding_mask is not None and not bool(memory_padding_mask.any()):
            memory_padding_mask = None
        if padding_mask is not None and offset:
            raise ValueError("a padding mask can only be given for the first decoding step")
        if self.additive_position is not None:
            x = self.additive_position(x, offset)
        x = self.dropout(x)
        k_len = offset + t
        causal = self.causal and t > 1  # one new query may see every cached key
        is_causal = causal and padding_mask is None and self.alibi is None and offset == 0
        attn_mask = None if is_causal else build_attention_mask(padding_mask, t, k_len, causal, offset)
        bias = self.alibi.bias(t, k_len, offset) if self.alibi is not None else None
        memory_mask = None if memory_padding_mask is None else (~memory_padding_mask)[:, None, None, :]
        for i, layer in enumerate(self.layers):
            x = layer(
                x, attn_mask, bias, self.rotary, is_causal, memory, memory_mask,
                cache.self_attn[i] if cache is not None else None,
                cache.cross_attn[i] if cache is not None else None,
                offset,
            )
            if self.interleaved is not None:
                x = x + self.interleaved[i](x, padding_mask)
        return self.final_norm(x)


def drop_path_rates(rate: float, num_layers: int) -> list[float]:
    """Stochastic-depth rates rising linearly with depth, from 0 at the first block to ``rate`` at the
    last (the deepest blocks are dropped most; Huang et al., 2016)."""
    if num_layers <= 1:
        return [rate] * num_layers
    return [rate * i / (num_layers - 1) for i in range(num_layers)]


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """GPT-2 style init for linear layers: N(0, std) weights, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
