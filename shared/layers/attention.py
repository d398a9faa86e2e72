"""Multi-head self- and cross-attention on ``scaled_dot_product_attention``.

Self-attention projects Q, K and V with one fused matrix product; cross-
attention fuses K and V. Rotary embeddings rotate Q and K before K is cached,
and ALiBi arrives as a float ``position_bias`` that is merged with the boolean
mask, so SDPA sees exactly one mask.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from shared.layers.kv_cache import LayerKVCache, StaticKV
from shared.layers.positional import RotaryEmbedding


def merge_mask_and_bias(attn_mask: Tensor | None, position_bias: Tensor | None) -> Tensor | None:
    """One SDPA mask from a boolean keep-mask and/or an additive float bias."""
    if position_bias is None:
        return attn_mask
    if attn_mask is None:
        return position_bias
    return position_bias.masked_fill(~attn_mask, float("-inf"))


class MultiHeadAttention(nn.Module):
    """Multi-head attention; ``cross=True`` attends from ``x`` to a ``context``."""

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True, cross: bool = False):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.dropout = dropout
        self.cross = cross
        if cross:
            self.q_proj = nn.Linear(dim, dim, bias=bias)
            self.kv_proj = nn.Linear(dim, 2 * dim, bias=bias)
        else:
            self.qkv_proj = nn.Linear(dim, 3 * dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def _heads(self, x: Tensor, parts: int) -> Tensor:
        """``[B, T, parts*D]`` -> ``[parts, B, H, T, Dh]``."""
        b, t, _ = x.shape
        return x.view(b, t, parts, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)

    def forward(
        self,
        x: Tensor,
        context: Tensor | None = None,
        attn_mask: Tensor | None = None,
        position_bias: Tensor | None = None,
        rotary: RotaryEmbedding | None = None,
        is_causal: bool = False,
        cache: LayerKVCache | StaticKV | None = None,
        offset: int = 0,
    ) -> Tensor:
        """Attend. ``attn_mask`` is bool (True = attend), broadcastable to ``[B, H, Tq, Tk]``.

        ``is_causal`` asks SDPA for its built-in causal mask and is only valid
        when no other mask, bias or cache offset applies. ``offset`` is the
        absolute position of the first query (the KV-cache length).
        """
        b, t, _ = x.shape
        if self.cross:
            q = self._heads(self.q_proj(x), 1)[0]
            if isinstance(cache, StaticKV) and cache.keys is not None:
                k, v = cache.keys, cache.values
            else:
                if context is None:
                    raise ValueError("cross-attention needs a context (the encoder output)")
                k, v = self._heads(self.kv_proj(context), 2)
                if isinstance(cache, StaticKV):
                    cache.keys, cache.values = k, v
        else:
            q, k, v = self._heads(self.qkv_proj(x), 3)
            if rotary is not None:
                q = rotary.rotate(q, offset)
                k = rotary.rotate(k, offset)
            if isinstance(cache, LayerKVCache):
                k, v = cache.append(k, v)
        mask = merge_mask_and_bias(attn_mask, position_bias)
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=is_causal and mask is None,
        )
        return self.out_proj(out.transpose(1, 2).reshape(b, t, self.dim))
