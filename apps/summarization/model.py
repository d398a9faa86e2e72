"""The summarizer: the shared encoder-decoder plus a pointer-generator copy head.

Each decoding step mixes two distributions over the vocabulary: the decoder's
(``p_gen``) and a copy distribution, an attention over the source tokens whose
weights are added onto those tokens' ids (``1 - p_gen``); a learned gate sets
``p_gen`` from the decoder state and the attended source. Names and rare words
are copied rather than spelled out of the decoder's softmax. With
``generator_vocab`` below the vocabulary size, ids at or above it can only be
copied: they are the model's "out of vocabulary" words.

Long inputs: the source is cut into ``window``-token chunks (positions restart
in each), every chunk is encoded on its own, a learned chunk-index vector is
added, and the decoder (and the copy head) attend over all chunks at once.
Nothing is dropped below ``max_chunks`` chunks; beyond that, the tail is cut
and :func:`apps.summarization.chunking.chunk_ids` reports how much.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from shared.config import config_from_dict
from shared.layers.kv_cache import KVCache
from shared.model_folder import register_builder
from shared.models import EncoderDecoder, TransformerConfig
from shared.models.generation import GenerationConfig, generate
from shared.tokenizers import Tokenizer

TINY = 1e-9  # keeps log() finite where both distributions give a token no mass


@dataclass
class SummarizerModelConfig:
    vocab_size: int = 8000  # the BPE vocabulary prepare trains; the model takes the tokenizer's actual size
    d_model: int = 256
    n_heads: int = 4
    encoder_layers: int = 4
    decoder_layers: int = 4
    d_ff: int = 1024
    dropout: float = 0.1
    window: int = 512  # encoder positions per chunk
    max_chunks: int = 24  # longest input read: window * max_chunks tokens
    copy: bool = True  # the pointer-generator head
    generator_vocab: int = 0  # > 0: the decoder's softmax covers only ids below this; the rest must be copied

    def transformer(self) -> TransformerConfig:
        return TransformerConfig(d_model=self.d_model, n_heads=self.n_heads, encoder_layers=self.encoder_layers,
                                 decoder_layers=self.decoder_layers, d_ff=self.d_ff, dropout=self.dropout,
                                 max_len=max(self.window, 256), vocab_size=self.vocab_size)


class PointerGeneratorSummarizer(nn.Module):
    """``batch = {"input_ids": [B, C, W] chunked source}`` -> summaries (see the module docstring)."""

    def __init__(self, cfg: SummarizerModelConfig):
        super().__init__()
        if cfg.vocab_size <= 0:
            raise ValueError("vocab_size must be set from the tokenizer")
        if cfg.generator_vocab and not cfg.copy:
            raise ValueError("generator_vocab needs copy: ids above it could never be written")
        self.cfg = cfg
        self.core = EncoderDecoder(cfg.transformer())
        d = cfg.d_model
        self.chunk_embedding = nn.Parameter(torch.zeros(cfg.max_chunks, d))
        if cfg.copy:
            self.copy_query = nn.Linear(d, d)
            self.copy_key = nn.Linear(d, d)
            self.copy_gate = nn.Linear(2 * d, 1)
        generator = cfg.generator_vocab or cfg.vocab_size
        never = torch.arange(cfg.vocab_size) >= generator
        never[[self.core.cfg.pad_id, self.core.cfg.bos_id]] = True  # never written, nor copied (masked below)
        self.register_buffer("outside_generator", never, persistent=False)

    # ------------------------------------------------------------------ encoder
    def encode(self, chunks: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``[B, C, W]`` chunk ids -> memory ``[B, C*W, D]``, its padding mask, and the flat source ids."""
        b, c, w = chunks.shape
        if c > self.cfg.max_chunks:
            raise ValueError(f"{c} chunks, the model reads at most {self.cfg.max_chunks}")
        flat = chunks.reshape(b * c, w)
        padding = flat == self.cfg.transformer().pad_id
        empty = padding.all(dim=1)
        padding_in = padding.clone()
        padding_in[empty, 0] = False  # an all-padding chunk still needs one key; it is masked below
        memory = self.core.encoder(self.core.adapter.embed(flat), padding_in)
        memory = memory.view(b, c, w, -1) + self.chunk_embedding[:c, None, :]
        return memory.reshape(b, c * w, -1), padding.view(b, c * w), chunks.reshape(b, c * w)

    # ------------------------------------------------------------------ output distribution
    def _parts(self, hidden: Tensor, memory: Tensor, keys: Tensor | None,
               padding: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """The decoder's log-softmax ``[B, T, V]``, and (with copying) the copy attention ``[B, T, S]``
        and the gate ``p_gen`` ``[B, T, 1]``."""
        logits = self.core.decoder.lm_head(hidden).float().masked_fill(self.outside_generator, float("-inf"))
        generated = torch.log_softmax(logits, dim=-1)
        if not self.cfg.copy:
            return generated, None, None
        scores = self.copy_query(hidden) @ keys.transpose(1, 2) / math.sqrt(self.cfg.d_model)
        attention = torch.softmax(scores.float().masked_fill(padding[:, None, :], float("-inf")), dim=-1)
        context = attention.to(memory.dtype) @ memory
        p_gen = torch.sigmoid(self.copy_gate(torch.cat([hidden, context], dim=-1)).float())
        return generated, attention, p_gen

    def _log_probs(self, hidden: Tensor, memory: Tensor, keys: Tensor | None, padding: Tensor,
                   source_ids: Tensor) -> Tensor:
        """The full mixed distribution ``[B, T, V]`` (log-probabilities)."""
        generated, attention, p_gen = self._parts(hidden, memory, keys, padding)
        if attention is None:
            return generated
        copied = torch.zeros_like(generated).scatter_add_(
            2, source_ids[:, None, :].expand(-1, hidden.shape[1], -1), attention)
        return torch.log(p_gen * generated.exp() + (1 - p_gen) * copied + TINY)

    def _decode_states(self, batch: Mapping[str, Tensor], decoder_input_ids: Tensor):
        memory, padding, source = self.encode(batch["input_ids"])
        pad = self.core.cfg.pad_id
        hidden = self.core.decoder.hidden_states(decoder_input_ids, decoder_input_ids == pad, memory, padding)
        keys = self.copy_key(memory) if self.cfg.copy else None
        return hidden, memory, keys, padding, source

    def forward(self, batch: Mapping[str, Tensor], decoder_input_ids: Tensor) -> Tensor:
        """Teacher-forced log-probabilities ``[B, T, V]`` (``decoder_input_ids`` start with BOS)."""
        return self._log_probs(*self._decode_states(batch, decoder_input_ids))

    def loss(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Mean negative log-likelihood of ``batch["labels"]`` (pad ignored). Only the labels'
        probabilities are mixed, never the whole ``[B, T, V]`` copy distribution."""
        labels = batch["labels"]
        bos = torch.full_like(labels[:, :1], self.core.cfg.bos_id)
        hidden, memory, keys, padding, source = self._decode_states(batch, torch.cat([bos, labels[:, :-1]], dim=1))
        generated, attention, p_gen = self._parts(hidden, memory, keys, padding)
        target = generated.gather(2, labels[..., None]).squeeze(-1)  # [B, T]
        if attention is not None:
            copy_mass = (attention * (source[:, None, :] == labels[..., None])).sum(-1)
            p_gen = p_gen.squeeze(-1)
            target = torch.log(p_gen * target.exp() + (1 - p_gen) * copy_mass + TINY)
        keep = labels != self.core.cfg.pad_id
        return -(target * keep).sum() / keep.sum().clamp(min=1)

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def generate(self, batch: Mapping[str, Tensor], cfg: GenerationConfig | None = None) -> Tensor:
        """``[B, <=max_new_tokens]`` summary ids with the core's greedy or beam search and KV cache."""
        cfg = cfg or GenerationConfig()
        memory, padding, source = self.encode(batch["input_ids"])
        if cfg.num_beams > 1:
            memory, padding, source = (t.repeat_interleave(cfg.num_beams, dim=0) for t in (memory, padding, source))
        keys = self.copy_key(memory) if self.cfg.copy else None
        decoder = self.core.decoder

        def step(tokens: Tensor, cache: KVCache | None) -> Tensor:
            new = tokens if cache is None else tokens[:, cache.length:]
            hidden = decoder.hidden_states(new, memory=memory, memory_padding_mask=padding, cache=cache)[:, -1:]
            return self._log_probs(hidden, memory, keys, padding, source)[:, -1]

        start = torch.full((memory.shape[0], 1), self.core.cfg.bos_id, dtype=torch.long, device=memory.device)
        return generate(step, start, cfg, self.core.cfg.eos_id, self.core.cfg.pad_id, decoder.new_cache)


@register_builder("summarizer")
def build_summarizer(config: dict, tokenizer: Tokenizer | None = None) -> PointerGeneratorSummarizer:
    return PointerGeneratorSummarizer(config_from_dict(SummarizerModelConfig, config))
