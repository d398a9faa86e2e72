"""Prediction with trained models: transcription (ASR) and synthesis (TTS), one input or a batch job.

ASR: batching, long-audio chunking, CTC greedy or beam decoding (optionally fused with a
character n-gram LM), attention decoding, and word timings from CTC forced alignment.
:class:`AsrPredictor` is ``sextant speech-asr predict``: each audio file (named directly, in a
folder, or in a .txt/.jsonl manifest) is one row (``row_id`` = its path relative to the folder
or manifest it came from); an unreadable, empty or silent file becomes an error row. Every
record holds the text, the audio duration, the compute seconds and real-time factor of its
batch share, and with ``align`` the words with start and end times; ``transcripts.jsonl``
gathers them in input order (NeMo's ``pred_text`` next to ``audio_filepath`` and ``duration``).

TTS: phonemes -> FastSpeech -> Griffin-Lim, a text of any length spoken sentence by
sentence. :class:`TtsPredictor` is ``sextant speech-tts predict``: every line of a .txt file
(or the ``text`` of every JSONL line) is one row, spoken into ``audio/<file>-<line>.wav``; an
empty or unpronounceable text, or one over ``SEXTANT_MAX_TEXT_CHARS``, is an error row.

Reruns skip finished shards: a killed job resumes without losing or duplicating a row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio

from apps.speech.audio import SAMPLE_RATE, check_audio, chunk_audio, read_audio, write_wav
from apps.speech.config import DecodeConfig
from apps.speech.data import pad_audio
from apps.speech.model import FastSpeech, SpeechRecognizer
from apps.speech.phonemes import PhonemeAlphabet, phoneme_strings
from apps.speech.text import normalize_english, split_sentences
from apps.speech.vocoder import GriffinLimVocoder
from shared.atomic import atomic_write_text
from shared.char_lm import CharNgramLM
from shared.ctc import beam_search, greedy_decode
from shared.errors import ConfigError, DataError
from shared.inference import InferenceSummary, InputRow, RowError, file_rows, read_outputs, resolve_inputs
from shared.limits import env_limit
from shared.model_folder import load_model
from shared.models.generation import GenerationConfig
from shared.tokenizers import Tokenizer

LM_FILE = "lm.json"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au")
TEXT_SUFFIXES = (".txt", ".jsonl")
PAUSE_SECONDS = 0.25  # between the sentences of one text
MAX_TEXT_CHARS = 5000  # per text to synthesise; SEXTANT_MAX_TEXT_CHARS overrides
MAX_TEXT_CHARS_ENV = "SEXTANT_MAX_TEXT_CHARS"


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


class AsrPredictor:
    """The batch job of ``sextant speech-asr predict``: one row per audio file; ``finish`` gathers
    every record into ``transcripts.jsonl`` (word timings as lists)."""

    fmt = "jsonl"
    shard_size = 64
    batch_size = 16

    def __init__(self, model_dir: str | Path, decode: DecodeConfig | None = None, align: bool = False):
        self.recognizer = Recognizer.from_folder(model_dir, decode)
        self.align = align

    def rows(self, inputs: Sequence[str | Path]) -> list[InputRow]:
        """One row per audio file named by ``inputs`` (files, folders, .txt/.jsonl manifests), listed up
        front so a wrong path fails before any work starts; files are read when predicted."""
        return [row for path in inputs for row in file_rows(path, AUDIO_SUFFIXES)]

    def predict(self, rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError | None] = [None] * len(rows)
        audios: list[np.ndarray] = []
        where: list[int] = []
        for i, row in enumerate(rows):
            try:
                audio = read_audio(row.payload)
                check_audio(audio, SAMPLE_RATE, str(row.payload))
                audios.append(audio)
                where.append(i)
            except DataError as err:
                results[i] = RowError(str(err))
        start = time.perf_counter()
        transcripts = self.recognizer.transcribe(audios, align=self.align) if audios else []
        seconds = time.perf_counter() - start
        total = sum(len(a) for a in audios) / SAMPLE_RATE
        for i, audio, found in zip(where, audios, transcripts, strict=True):
            duration = len(audio) / SAMPLE_RATE
            share = seconds * duration / max(total, 1e-9)
            record = {"audio_filepath": str(rows[i].payload), "duration": round(duration, 3), "pred_text": found.text,
                      "compute_seconds": round(share, 4), "rtf": round(share / max(duration, 1e-9), 4)}
            if self.align:
                record["words"] = json.dumps(found.words or [])
            results[i] = [record]
        return results  # type: ignore[return-value]

    def finish(self, out_dir: Path, summary: InferenceSummary) -> dict[str, str]:
        records = []
        for record in read_outputs(out_dir):
            if "words" in record and isinstance(record["words"], str):
                record["words"] = json.loads(record["words"])
            records.append(record)
        path = Path(out_dir) / "transcripts.jsonl"
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in records))
        return {"transcripts": str(path)}


# --- synthesis ---------------------------------------------------------------------------------

class Synthesizer:
    """Text -> 16 kHz audio with a trained FastSpeech folder and the Griffin-Lim vocoder."""

    def __init__(self, folder: str | Path, griffin_lim_iters: int = 32):
        loaded = load_model(folder)
        if not isinstance(loaded.model, FastSpeech) or loaded.tokenizer is None:
            raise ConfigError(f"{folder} is not a speech synthesis model")
        self.model: FastSpeech = loaded.model
        self.tokenizer = loaded.tokenizer
        self.alphabet = PhonemeAlphabet.from_dict(loaded.metadata["alphabet"])
        self.vocoder = GriffinLimVocoder(self.model.cfg.features, n_iter=griffin_lim_iters)
        self.hop = self.model.cfg.features.hop_length

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        strings, _ = phoneme_strings(texts, self.alphabet)
        return [self.tokenizer.encode(s) for s in strings]

    def log_mels(self, texts: list[str], speed: float = 1.0) -> list[torch.Tensor]:
        """Predicted log-mels ``[n_mels, T]`` per text."""
        mels = []
        for ids in self.token_ids(texts):
            if not ids:
                raise DataError("nothing to say: the text has no pronounceable words")
            synthesis = self.model.synthesize(torch.tensor([ids]), speed)
            frames = int((~synthesis.mel_padding[0]).sum())
            mels.append(synthesis.mel[0, :, :frames])
        return mels

    def synthesize(self, texts: list[str], speed: float = 1.0) -> list[np.ndarray]:
        """Float32 16 kHz audio per text."""
        return [self.vocoder(mel).numpy().astype(np.float32) for mel in self.log_mels(texts, speed)]

    def timed(self, texts: list[str]) -> tuple[list[np.ndarray], float]:
        """Audio and the real-time factor (compute seconds per second of audio made)."""
        start = time.perf_counter()
        audios = self.synthesize(texts)
        return audios, (time.perf_counter() - start) / max(sum(len(a) for a in audios) / SAMPLE_RATE, 1e-9)


def expected_samples(frames: int, hop: int) -> int:
    """Audio samples Griffin-Lim makes for ``frames`` mel frames (centred STFT)."""
    return (frames - 1) * hop


def speak(synthesizer: Synthesizer, text: str, speed: float = 1.0) -> np.ndarray:
    """16 kHz float audio for ``text`` (sentences joined by ``PAUSE_SECONDS`` of silence)."""
    limit = int(env_limit(MAX_TEXT_CHARS_ENV, MAX_TEXT_CHARS))
    if len(text) > limit:
        raise DataError(f"text of {len(text):,} characters is over the limit of {limit:,} ({MAX_TEXT_CHARS_ENV})")
    sentences = [s for s in split_sentences(" ".join(text.split())) if normalize_english(s)]
    if not sentences:
        raise DataError("nothing to say: the text has no words")
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), np.float32)
    pieces: list[np.ndarray] = []
    for audio in synthesizer.synthesize(sentences, speed):
        pieces += [audio, pause]
    return np.concatenate(pieces[:-1])


def synthesize_to_file(model_dir: str | Path, text: str, output: str | Path, speed: float = 1.0,
                       griffin_lim_iters: int = 32) -> dict:
    """Write ``output`` (.wav); returns its duration, compute seconds and real-time factor."""
    if Path(output).suffix.lower() != ".wav":
        raise DataError(f"{output}: the output must be a .wav file")
    synthesizer = Synthesizer(model_dir, griffin_lim_iters)
    start = time.perf_counter()
    audio = speak(synthesizer, text, speed)
    compute = time.perf_counter() - start
    write_wav(output, audio)
    seconds = len(audio) / SAMPLE_RATE
    return {"seconds": seconds, "compute_seconds": compute, "rtf": compute / max(seconds, 1e-9)}


def text_rows(path: str | Path) -> Iterator[InputRow]:
    """One row per text under ``path`` (a .txt file: every line; a .jsonl file: every line's ``text``;
    a folder: every such file in it), ``row_id`` ``<file>:<line>``; an unreadable file is one error row,
    an empty text or a JSONL line without a ``text`` string an error row of its own."""
    path = Path(path)
    root = path if path.is_dir() else path.parent
    for file in resolve_inputs(path, TEXT_SUFFIXES):
        try:
            name = file.absolute().relative_to(root.absolute()).as_posix()
        except ValueError:
            name = file.as_posix()
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            yield InputRow(f"{name}:<file>", error=f"{file}: file not found")
            continue
        except (OSError, UnicodeDecodeError) as err:
            yield InputRow(f"{name}:<file>", error=f"{file.name}: unreadable text file ({str(err).splitlines()[0]})")
            continue
        jsonl = file.suffix.lower() == ".jsonl"
        for number, line in enumerate(lines, start=1):
            row_id = f"{name}:{number}"
            if jsonl:
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as err:
                    yield InputRow(row_id, error=f"bad JSON ({err.msg})")
                    continue
                text = value.get("text") if isinstance(value, dict) else None
                if not isinstance(text, str):
                    yield InputRow(row_id, error='expected a JSON object with a "text" string')
                    continue
            else:
                text = line
            if not text.strip():
                yield InputRow(row_id, error="empty text")
                continue
            yield InputRow(row_id, payload={"file": str(file), "name": name, "line": number, "text": text})


class TtsPredictor:
    """The batch job of ``sextant speech-tts predict``: one row per text.

    A record carries its audio (16-bit FLAC, base64, in ``audio_flac``), so a shard holds
    everything its rows made and a resumed or fanned-out job loses nothing; ``finish`` writes
    every record's ``audio/<file>-<line>.wav`` and ``synthesized.jsonl`` (the records without
    the audio bytes, in input order).
    """

    fmt = "jsonl"
    shard_size = 32
    batch_size = 8

    def __init__(self, model_dir: str | Path, speed: float = 1.0, griffin_lim_iters: int = 32):
        if speed <= 0:
            raise ConfigError(f"speed must be positive, got {speed}")
        self.synthesizer = Synthesizer(model_dir, griffin_lim_iters)
        self.speed = speed

    def rows(self, inputs: Sequence[str | Path]) -> list[InputRow]:
        return [row for path in inputs for row in text_rows(path)]

    def predict(self, rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError] = []
        for row in rows:
            payload = row.payload
            try:
                start = time.perf_counter()
                audio = speak(self.synthesizer, payload["text"], self.speed)
                compute = time.perf_counter() - start
            except DataError as err:
                results.append(RowError(str(err).splitlines()[0] if str(err) else type(err).__name__))
                continue
            stem = Path(*[p for p in Path(payload["name"]).parts if p not in ("..", "/")]).with_suffix("")
            seconds = len(audio) / SAMPLE_RATE
            results.append([{"text_file": payload["file"], "line": payload["line"], "text": payload["text"],
                             "audio": f"audio/{stem.as_posix()}-{payload['line']:05d}.wav", "seconds": round(seconds, 3),
                             "rtf": round(compute / max(seconds, 1e-9), 4), "audio_flac": _flac_base64(audio)}])
        return results

    def finish(self, out_dir: Path, summary: InferenceSummary) -> dict[str, str]:
        out = Path(out_dir)
        index = []
        for shard in sorted(out.glob("shard-*.jsonl")):  # shard by shard: only one shard's audio in memory
            for line in shard.read_text(encoding="utf-8").splitlines():
                record = json.loads(line)
                write_wav(out / record["audio"], _from_flac_base64(record.pop("audio_flac")))
                index.append(record)
        path = out / "synthesized.jsonl"
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in index))
        return {"synthesized": str(path), "audio": str(out / "audio")}


def _flac_base64(audio: np.ndarray) -> str:
    import base64
    import io

    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1, 1), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _from_flac_base64(text: str) -> np.ndarray:
    import base64
    import io

    import soundfile as sf

    audio, _ = sf.read(io.BytesIO(base64.b64decode(text)), dtype="float32")
    return audio
