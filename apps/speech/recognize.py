"""Transcription with a trained recogniser: batching, long-audio chunking, CTC greedy or beam
decoding (optionally fused with a character n-gram LM), attention decoding, and word timings
from CTC forced alignment."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torchaudio

from apps.speech.audio import SAMPLE_RATE, chunk_audio
from shared.ctc import beam_search, greedy_decode
from apps.speech.data import pad_audio
from shared.char_lm import CharNgramLM
from apps.speech.model import SpeechRecognizer
from shared.errors import ConfigError
from shared.model_folder import load_model
from shared.models.generation import GenerationConfig
from shared.tokenizers import Tokenizer

LM_FILE = "lm.json"


@dataclass
class DecodeConfig:
    method: Literal["greedy", "beam", "attention"] = "beam"
    beam_size: int = 8
    use_lm: bool = True  # shallow fusion with the model folder's lm.json (when there is one)
    lm_weight: float = 0.5
    word_bonus: float = 1.0
    max_seconds: float = 20.0  # longer audio is cut into pieces of at most this length
    batch_seconds: float = 120.0  # audio per forward pass


@dataclass
class Transcript:
    text: str
    seconds: float  # audio duration
    words: list[dict] | None = None  # [{"word", "start", "end"}] with --align


class Recognizer:
    """A recogniser model, its tokenizer and (optionally) its character LM."""

    def __init__(self, model: SpeechRecognizer, tokenizer: Tokenizer, lm: CharNgramLM | None = None,
                 decode: DecodeConfig | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.lm = lm
        self.decode = decode or DecodeConfig()
        self.frame_seconds = model.cfg.subsample * model.cfg.features.hop_length / SAMPLE_RATE
        n = tokenizer.vocab_size
        self.id_to_char = {i: tokenizer.decode([i]) for i in range(4, n)}

    @classmethod
    def from_folder(cls, folder: str | Path, decode: DecodeConfig | None = None) -> Recognizer:
        loaded = load_model(folder)
        if not isinstance(loaded.model, SpeechRecognizer) or loaded.tokenizer is None:
            raise ConfigError(f"{folder} is not a speech recognition model")
        lm_path = Path(folder) / LM_FILE
        lm = CharNgramLM.load(lm_path) if lm_path.is_file() else None
        return cls(loaded.model, loaded.tokenizer, lm, decode)

    @torch.no_grad()
    def log_probs(self, audios: list[np.ndarray]) -> list[torch.Tensor]:
        """CTC log-probabilities ``[T_i, V]`` per audio (batched by similar length)."""
        order = sorted(range(len(audios)), key=lambda i: len(audios[i]))
        out: list[torch.Tensor | None] = [None] * len(audios)
        batch: list[int] = []
        budget = self.decode.batch_seconds * SAMPLE_RATE

        def flush() -> None:
            audio, lengths = pad_audio([audios[i] for i in batch])
            log_probs, padding = self.model({"audio": audio, "audio_lengths": lengths})
            for j, i in enumerate(batch):
                out[i] = log_probs[j, : int((~padding[j]).sum())]
            batch.clear()

        for i in order:
            if batch and (len(batch) + 1) * len(audios[i]) > budget:
                flush()
            batch.append(i)
        if batch:
            flush()
        return out  # type: ignore[return-value]

    def decode_ids(self, log_probs: torch.Tensor) -> list[int]:
        d = self.decode
        if d.method == "greedy":
            return greedy_decode(log_probs.numpy())
        lm = self.lm if d.use_lm else None
        return beam_search(log_probs.numpy(), beam_size=d.beam_size, lm=lm, id_to_char=self.id_to_char,
                           lm_weight=d.lm_weight, word_bonus=d.word_bonus)

    def _attention(self, audios: list[np.ndarray]) -> list[str]:
        texts = []
        for audio in audios:
            padded, lengths = pad_audio([audio])
            ids = self.model.generate({"audio": padded, "audio_lengths": lengths},
                                      GenerationConfig(max_new_tokens=int(len(audio) / SAMPLE_RATE * 25) + 10,
                                                       num_beams=self.decode.beam_size))
            texts.append(self.tokenizer.decode(ids[0].tolist()))
        return texts

    def transcribe(self, audios: list[np.ndarray], align: bool = False) -> list[Transcript]:
        """Text (and word timings with ``align``) for 16 kHz mono float audio."""
        pieces: list[tuple[int, int, np.ndarray]] = []  # (audio index, start sample, piece)
        for k, audio in enumerate(audios):
            pieces += [(k, start, piece) for start, piece in chunk_audio(audio, SAMPLE_RATE, self.decode.max_seconds)]
        if self.decode.method == "attention":
            texts = self._attention([p for _, _, p in pieces])
            words: list[list[dict] | None] = [None] * len(pieces)
        else:
            log_probs = self.log_probs([p for _, _, p in pieces])
            texts = [self.tokenizer.decode(self.decode_ids(lp)) for lp in log_probs]
            words = [self.word_timings(lp, text, start / SAMPLE_RATE) if align else None
                     for (_, start, _), lp, text in zip(pieces, log_probs, texts, strict=True)]
        results = [Transcript("", len(a) / SAMPLE_RATE, [] if align else None) for a in audios]
        for (k, _, _), text, found in zip(pieces, texts, words, strict=True):
            results[k].text = " ".join(t for t in (results[k].text, text.strip()) if t)
            if found is not None and results[k].words is not None:
                results[k].words += found
        return results

    def word_timings(self, log_probs: torch.Tensor, text: str, offset: float = 0.0) -> list[dict]:
        """Start and end (seconds) of each word of ``text`` by CTC forced alignment."""
        ids = self.tokenizer.encode(text.strip())
        if not ids or len(ids) > log_probs.shape[0]:
            return []
        path, scores = torchaudio.functional.forced_align(log_probs[None], torch.tensor([ids]), blank=0)
        spans = torchaudio.functional.merge_tokens(path[0], scores[0].exp())
        space = self.tokenizer.encode(" ")
        words, current = [], []
        for span in spans + [None]:
            if span is None or (space and span.token == space[0]):
                if current:
                    words.append({"word": self.tokenizer.decode([s.token for s in current]),
                                  "start": round(offset + current[0].start * self.frame_seconds, 3),
                                  "end": round(offset + current[-1].end * self.frame_seconds, 3)})
                current = []
            else:
                current.append(span)
        return words


def timed_transcribe(recognizer: Recognizer, audios: list[np.ndarray]) -> tuple[list[str], float]:
    """Transcripts and the real-time factor (compute seconds per audio second)."""
    start = time.perf_counter()
    texts = [t.text for t in recognizer.transcribe(audios)]
    audio_seconds = sum(len(a) for a in audios) / SAMPLE_RATE
    return texts, (time.perf_counter() - start) / max(audio_seconds, 1e-9)
