"""The pre-norm transformer block shared by encoders and decoders.

Stochastic depth (Huang et al., 2016) is timm's :class:`~timm.layers.DropPath`: in
training, each residual branch is dropped for a whole sample with probability
``drop_path`` (and the kept ones scaled up); in eval mode it is the identity.
"""

from __future__ import annotations

from timm.layers import DropPath
from torch import Tensor, nn

from shared.layers.attention import MultiHeadAttention
from shared.layers.kv_cache import LayerKVCache, StaticKV
from shared.layers.mlp import MlpKind, make_mlp
from shared.layers.norm import NormKind, make_norm
from shared.layers.positional import RotaryEmbedding


class TransformerBlock(nn.Module):
    """``x + SelfAttn(Norm(x))`` [``+ CrossAttn(Norm(x), memory)``] ``+ Mlp(Norm(x))``, each branch
    under stochastic depth at rate ``drop_path``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        ffn_dim: int,
        dropout: float = 0.1,
        attention_dropout: float = 0.0,
        norm: NormKind = "layernorm",
        mlp: MlpKind = "gelu",
        bias: bool = True,
        cross_attention: bool = False,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.self_norm = make_norm(norm, dim)
        self.self_attn = MultiHeadAttention(dim, num_heads, attention_dropout, bias)
        self.cross_norm = make_norm(norm, dim) if cross_attention else None
        self.cross_attn = MultiHeadAttention(dim, num_heads, attention_dropout, bias, cross=True) if cross_attention else None
        self.mlp_norm = make_norm(norm, dim)
        self.mlp = make_mlp(mlp, dim, ffn_dim, dropout, bias)
        self.dropout = nn.Dropout(dropout)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(
        self,
        x: Tensor,
        attn_mask: Tensor | None = None,
        position_bias: Tensor | None = None,
        rotary: RotaryEmbedding | None = None,
        is_causal: bool = False,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        self_cache: LayerKVCache | None = None,
        cross_cache: StaticKV | None = None,
        offset: int = 0,
    ) -> Tensor:
        h = self.self_norm(x)
        x = x + self.drop_path(self.dropout(
            self.self_attn(h, attn_mask=attn_mask, position_bias=position_bias, rotary=rotary,
                           is_causal=is_causal, cache=self_cache, offset=offset)
        ))
        if self.cross_attn is not None:
            h = self.cross_norm(x)
            x = x + self.drop_path(self.dropout(self.cross_attn(h, context=memory, attn_mask=memory_mask,
                                                                cache=cross_cache)))
        return x + self.drop_path(self.dropout(self.mlp(self.mlp_norm(x))))
