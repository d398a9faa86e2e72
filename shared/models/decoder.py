"""Causal decoder: token embedding, blocks (optionally cross-attending), LM head."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from shared.layers.kv_cache import KVCache
from shared.models.adapters import TokenEmbedding
from shared.models.config import TransformerConfig
from shared.models.generation import GenerationConfig, generate
from shared.models.stack import TransformerStack, init_weights


class Decoder(nn.Module):
    """A causal transformer language model; with ``cross_attention`` it reads encoder memory."""

    def __init__(self, cfg: TransformerConfig, cross_attention: bool = True, embedding: TokenEmbedding | None = None):
        super().__init__()
        if cfg.vocab_size <= 0:
            raise ValueError("a decoder needs cfg.vocab_size > 0")
        self.cfg = cfg
        self.embedding = embedding or TokenEmbedding(cfg.vocab_size, cfg.d_model, cfg.pad_id)
        self.stack = TransformerStack(cfg, cfg.decoder_layers, causal=True, cross_attention=cross_attention)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        init_weights(self.stack)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embedding.weight
        else:
            nn.init.normal_(self.lm_head.weight, std=cfg.d_model**-0.5)

    def new_cache(self) -> KVCache:
        return KVCache(len(self.stack.layers))

    def hidden_states(
        self,
        input_ids: Tensor,
        padding_mask: Tensor | None = None,
        memory: Tensor | None = None,
        memory_padding_mask: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Final-norm hidden states ``[B, T, D]`` (before the LM head)."""
        x = self.embedding.embed(input_ids)
        return self.stack(x, padding_mask, memory, memory_padding_mask, cache)

    def forward(
        self,
        input_ids: Tensor,
        padding_mask: Tensor | None = None,
        memory: Tensor | None = None,
        memory_padding_mask: Tensor | None = None,
        cache: KVCache | None = None,
    ) -> Tensor:
        """Next-token logits ``[B, T, V]``. With a cache, pass only the new positions."""
        return self.lm_head(self.hidden_states(input_ids, padding_mask, memory, memory_padding_mask, cache))

    def step_fn(self, memory: Tensor | None = None, memory_padding_mask: Tensor | None = None):
        """A generation step function over this decoder (see :mod:`shared.models.generation`)."""

        def step(tokens: Tensor, cache: KVCache | None) -> Tensor:
            if cache is None:
                return self(tokens, memory=memory, memory_padding_mask=memory_padding_mask)[:, -1]
            new = tokens[:, cache.length :]
            return self(new, memory=memory, memory_padding_mask=memory_padding_mask, cache=cache)[:, -1]

        return step

    @torch.no_grad()
    def generate(self, prompt: Tensor, cfg: GenerationConfig | None = None) -> Tensor:
        """Continue ``prompt`` ``[B, P]`` (no padding); returns only the new tokens."""
        cfg = cfg or GenerationConfig()
        prompt = prompt.repeat_interleave(cfg.num_beams, dim=0)
        return generate(self.step_fn(), prompt, cfg, self.cfg.eos_id, self.cfg.pad_id, self.new_cache)
