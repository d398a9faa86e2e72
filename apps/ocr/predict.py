"""Reading line images (and pages) with a trained OCR model.

Lines are batched by width. CTC output is decoded greedily or by prefix beam
search, optionally fused with the model folder's character n-gram LM
(``lm.json``); the encoder-decoder variant decodes with the core's beam search.
Each line gets a confidence: the geometric mean, over the characters read, of
the probability of the frame that emitted each one (1.0 for a line read as
empty with certainty of blanks is not claimed: an empty line scores the mean
blank probability).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from apps.ocr.images import model_input, pad_images
from apps.ocr.model import LineRecognizerModel
from shared.char_lm import CharNgramLM
from shared.ctc import beam_search, greedy_decode
from shared.errors import ConfigError
from shared.model_folder import load_model
from shared.models.generation import GenerationConfig
from shared.tokenizers import Tokenizer

LM_FILE = "lm.json"


@dataclass
class ReadConfig:
    method: Literal["greedy", "beam", "attention"] = "beam"
    beam_size: int = 8
    use_lm: bool = True  # shallow fusion with the model folder's lm.json, when there is one
    lm_weight: float = 0.3
    word_bonus: float = 0.5
    batch_pixels: int = 2_000_000  # model-input pixels per forward pass


@dataclass
class LineText:
    text: str
    confidence: float


class LineReader:
    """A line model, its tokenizer and (optionally) its character LM."""

    def __init__(self, model: LineRecognizerModel, tokenizer: Tokenizer, lm: CharNgramLM | None = None,
                 config: ReadConfig | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.lm = lm
        self.config = config or ReadConfig()
        self.id_to_char = {i: tokenizer.decode([i]) for i in range(4, tokenizer.vocab_size)}

    @classmethod
    def from_folder(cls, folder: str | Path, config: ReadConfig | None = None) -> LineReader:
        loaded = load_model(folder)
        if not isinstance(loaded.model, LineRecognizerModel) or loaded.tokenizer is None:
            raise ConfigError(f"{folder} is not an OCR line model")
        lm_path = Path(folder) / LM_FILE
        return cls(loaded.model, loaded.tokenizer, CharNgramLM.load(lm_path) if lm_path.is_file() else None, config)

    def _inputs(self, images: list[np.ndarray]) -> list[torch.Tensor]:
        cfg = self.model.cfg
        return [model_input(image, cfg.height, cfg.max_width) for image in images]

    def _batches(self, inputs: list[torch.Tensor]) -> list[list[int]]:
        order = sorted(range(len(inputs)), key=lambda i: inputs[i].shape[1])
        batches, batch = [], []
        for i in order:
            if batch and (len(batch) + 1) * inputs[i].shape[1] * inputs[i].shape[0] > self.config.batch_pixels:
                batches.append(batch)
                batch = []
            batch.append(i)
        return batches + ([batch] if batch else [])

    @torch.no_grad()
    def log_probs(self, images: list[np.ndarray]) -> list[torch.Tensor]:
        """CTC log-probabilities ``[T_i, V]`` per line image."""
        inputs = self._inputs(images)
        out: list[torch.Tensor | None] = [None] * len(images)
        for batch in self._batches(inputs):
            padded, widths = pad_images([inputs[i] for i in batch])
            log_probs, padding = self.model({"images": padded, "widths": widths})
            for j, i in enumerate(batch):
                out[i] = log_probs[j, : int((~padding[j]).sum())]
        return out  # type: ignore[return-value]

    def _decode(self, log_probs: torch.Tensor) -> list[int]:
        c = self.config
        if c.method == "greedy":
            return greedy_decode(log_probs)
        return beam_search(log_probs, beam_size=c.beam_size, lm=self.lm if c.use_lm else None,
                           id_to_char=self.id_to_char, lm_weight=c.lm_weight, word_bonus=c.word_bonus)

    def read(self, images: list[np.ndarray]) -> list[LineText]:
        """Text and confidence for each ``uint8`` grayscale line image."""
        if not images:
            return []
        if self.config.method == "attention":
            return self._attention(images)
        results = []
        for lp in self.log_probs(images):
            ids = self._decode(lp)
            results.append(LineText(self.tokenizer.decode(ids).strip(), ctc_confidence(lp, ids)))
        return results

    @torch.no_grad()
    def _attention(self, images: list[np.ndarray]) -> list[LineText]:
        results = []
        for x in self._inputs(images):
            padded, widths = pad_images([x])
            gen = GenerationConfig(max_new_tokens=x.shape[1] // self.model.cfg.column_stride + 2,
                                   num_beams=self.config.beam_size)
            ids = self.model.generate({"images": padded, "widths": widths}, gen)[0].tolist()
            ids = [i for i in ids if i >= 4]
            lp = self.model({"images": padded, "widths": widths})[0][0]
            results.append(LineText(self.tokenizer.decode(ids).strip(), ctc_confidence(lp, greedy_decode(lp))))
        return results


def ctc_confidence(log_probs: torch.Tensor, ids: list[int]) -> float:
    """Geometric mean of the best frame probability of each emitted symbol, in order; for an empty
    reading, the mean blank probability."""
    probs = log_probs.exp()
    if not ids:
        return float(probs[:, 0].mean()) if len(probs) else 0.0
    best = probs.argmax(dim=1).tolist()
    logs, k = [], 0
    for t, token in enumerate(best):
        if k < len(ids) and token == ids[k] and (t == 0 or best[t - 1] != token):
            logs.append(math.log(max(float(probs[t, token]), 1e-12)))
            k += 1
    if len(logs) < len(ids):  # beam search chose symbols the best path skipped: use their best frames
        logs += [math.log(max(float(probs[:, i].max()), 1e-12)) for i in ids[len(logs):]]
    return math.exp(sum(logs) / len(logs))


def timed_read(reader: LineReader, images: list[np.ndarray]) -> tuple[list[LineText], float]:
    """Results and lines per second."""
    start = time.perf_counter()
    results = reader.read(images)
    return results, len(images) / max(time.perf_counter() - start, 1e-9)
