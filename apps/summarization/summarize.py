"""Summarizing documents with a trained model folder: chunking, batched beam search, truncation notes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from apps.summarization.chunking import chunk_batch
from apps.summarization.model import PointerGeneratorSummarizer
from shared.errors import ConfigError
from shared.model_folder import load_model
from shared.models.generation import GenerationConfig
from shared.tokenizers import Tokenizer


@dataclass
class DecodeConfig:
    """Beam search settings; lengths count summary tokens (BPE pieces, about 1.3 per word)."""

    num_beams: int = 4
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 3
    min_length: int = 3
    max_length: int = 40
    batch_size: int = 16

    def generation(self) -> GenerationConfig:
        if self.min_length > self.max_length:
            raise ConfigError(f"min_length {self.min_length} is above max_length {self.max_length}")
        return GenerationConfig(max_new_tokens=self.max_length, min_new_tokens=self.min_length,
                                num_beams=self.num_beams, length_penalty=self.length_penalty,
                                no_repeat_ngram_size=self.no_repeat_ngram_size, early_stopping=True)


@dataclass
class Summary:
    text: str
    input_tokens: int
    chunks: int
    truncated_tokens: int  # tokens beyond the model's window * max_chunks, not read

    def to_dict(self) -> dict:
        out = {"summary": self.text, "input_tokens": self.input_tokens, "chunks": self.chunks}
        if self.truncated_tokens:
            out["truncated_tokens"] = self.truncated_tokens
        return out


def normalize(text: str) -> str:
    """One space between words: line breaks and indentation carry no meaning for the model."""
    return " ".join(text.split())


class Summarizer:
    """A model and its tokenizer, ready to summarize batches of documents."""

    def __init__(self, model: PointerGeneratorSummarizer, tokenizer: Tokenizer, decode: DecodeConfig | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.decode = decode or DecodeConfig()

    @classmethod
    def from_folder(cls, folder: str | Path, decode: DecodeConfig | None = None) -> Summarizer:
        loaded = load_model(folder)
        if not isinstance(loaded.model, PointerGeneratorSummarizer) or loaded.tokenizer is None:
            raise ConfigError(f"{folder} is not a summarization model folder")
        return cls(loaded.model, loaded.tokenizer, decode)

    def encode(self, document: str) -> list[int]:
        return self.tokenizer.encode(normalize(document), add_eos=True)

    @torch.no_grad()
    def summarize(self, documents: list[str], decode: DecodeConfig | None = None) -> list[Summary]:
        """One summary per document, in order; documents of similar length are decoded together."""
        decode = decode or self.decode
        gen = decode.generation()
        cfg = self.model.cfg
        encoded = [self.encode(d) for d in documents]
        out: list[Summary | None] = [None] * len(documents)
        order = sorted(range(len(documents)), key=lambda i: len(encoded[i]))
        for start in range(0, len(order), decode.batch_size):
            index = order[start : start + decode.batch_size]
            chunks, dropped = chunk_batch([encoded[i] for i in index], cfg.window, cfg.max_chunks)
            ids = self.model.generate({"input_ids": chunks}, gen)
            for row, i in enumerate(index):
                n_chunks = max(1, -(-min(len(encoded[i]), cfg.window * cfg.max_chunks) // cfg.window))
                out[i] = Summary(self.tokenizer.decode(ids[row].tolist()).strip(), len(encoded[i]), n_chunks,
                                 dropped[row])
        return out  # type: ignore[return-value]
