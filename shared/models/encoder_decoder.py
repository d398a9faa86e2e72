"""Encoder-decoder: any adapter -> encoder -> cross-attending decoder."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from shared.models.adapters import Adapter, TokenEmbedding
from shared.models.config import TransformerConfig
from shared.models.decoder import Decoder
from shared.models.encoder import Encoder
from shared.models.generation import GenerationConfig, generate


class EncoderDecoder(nn.Module):
    """Sequence-to-sequence model. Without an adapter the source is token ids
    (``batch["input_ids"]``), sharing the decoder's embedding when the
    vocabularies match and ``tie_embeddings`` is set."""

    def __init__(self, cfg: TransformerConfig, adapter: Adapter | None = None):
        super().__init__()
        self.cfg = cfg
        self.decoder = Decoder(cfg, cross_attention=True)
        if adapter is None:
            src_vocab = cfg.source_vocab_size or cfg.vocab_size
            if cfg.tie_embeddings and src_vocab == cfg.vocab_size:
                adapter = self.decoder.embedding
            else:
                adapter = TokenEmbedding(src_vocab, cfg.d_model, cfg.pad_id)
        if adapter.output_dim != cfg.d_model:
            raise ValueError(f"adapter gives {adapter.output_dim}-d tokens, model expects {cfg.d_model}")
        self.adapter = adapter
        self.encoder = Encoder(cfg)

    def encode(self, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Encoder memory ``[B, S, D]`` and its padding mask ``[B, S]``."""
        tokens, padding_mask = self.adapter(batch)
        return self.encoder(tokens, padding_mask), padding_mask

    def forward(self, batch: Mapping[str, Tensor], decoder_input_ids: Tensor, decoder_padding_mask: Tensor | None = None) -> Tensor:
        """Teacher-forced logits ``[B, T, V]`` for ``decoder_input_ids`` (starting with BOS)."""
        memory, memory_padding_mask = self.encode(batch)
        return self.decoder(decoder_input_ids, decoder_padding_mask, memory, memory_padding_mask)

    @torch.no_grad()
    def generate(self, batch: Mapping[str, Tensor], cfg: GenerationConfig | None = None) -> Tensor:
        """Decode ``[B, <=max_new_tokens]`` tokens (no BOS; padded after EOS)."""
        cfg = cfg or GenerationConfig()
        memory, memory_padding_mask = self.encode(batch)
        if cfg.num_beams > 1:
            memory = memory.repeat_interleave(cfg.num_beams, dim=0)
            memory_padding_mask = memory_padding_mask.repeat_interleave(cfg.num_beams, dim=0)
        start = torch.full((memory.shape[0], 1), self.cfg.bos_id, dtype=torch.long, device=memory.device)
        step = self.decoder.step_fn(memory, memory_padding_mask)
        return generate(step, start, cfg, self.cfg.eos_id, self.cfg.pad_id, self.decoder.new_cache)
