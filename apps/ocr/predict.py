"""Reading line images and pages with a trained OCR model, one image or a batch job.

**Reading.** Lines are batched by width. CTC output is decoded greedily or by prefix beam
search, optionally fused with the model folder's character n-gram LM (``lm.json``); the
encoder-decoder variant decodes with the core's beam search (``decode.method=attention``).
Each line gets a confidence: the geometric mean, over the characters read, of the probability
of the frame that emitted each one (an empty reading scores the mean blank probability).

**The batch job** (:class:`OcrPredictor`, ``sextant ocr predict``): each image of the files,
folders or manifests given is one row (``row_id`` = its path relative to the folder or
manifest it came from). In line mode an image is one text line; in page mode it is deskewed
and cut into lines (:mod:`apps.ocr.page`), which are read in one batch and reported in
reading order. Every record holds the text and a confidence per line (page mode adds the line
number, its box in the deskewed page and the skew). An unreadable or corrupt image becomes
an error row and the job carries on; a rerun skips finished shards, so a killed job resumes
without losing or duplicating a row. At the end :meth:`OcrPredictor.finish` gathers all
records in input order into ``lines.jsonl`` and ``lines.txt`` (``image[:line] TAB confidence
TAB text``) and, with ``overlay``, draws ``overlays/<row_id>.png``: the text under each line.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from apps.ocr.config import DecodeConfig
from apps.ocr.images import IMAGE_SUFFIXES, model_input, pad_images, read_image
from apps.ocr.model import LineRecognizerModel
from apps.ocr.page import deskew, read_page_lines
from apps.ocr.plots import lines_overlay_png, overlay_png
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.char_lm import CharNgramLM
from shared.ctc import beam_search, greedy_decode
from shared.errors import ConfigError, DataError
from shared.inference import InferenceSummary, InputRow, RowError, file_rows, read_outputs
from shared.model_folder import load_model
from shared.models.generation import GenerationConfig
from shared.tokenizers import Tokenizer

LM_FILE = "lm.json"


@dataclass
class LineText:
    text: str
    confidence: float


class LineReader:
    """A line model, its tokenizer and (optionally) its character LM."""

    def __init__(self, model: LineRecognizerModel, tokenizer: Tokenizer, lm: CharNgramLM | None = None,
                 config: DecodeConfig | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.lm = lm
        self.config = config or DecodeConfig()
        self.id_to_char = {i: tokenizer.decode([i]) for i in range(4, tokenizer.vocab_size)}

    @classmethod
    def from_folder(cls, folder: str | Path, config: DecodeConfig | None = None) -> LineReader:
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


# ------------------------------------------------------------------ the batch job
def _overlay_path(output_dir: Path, row_id: str) -> Path:
    safe = Path(*[p for p in Path(row_id).parts if p not in ("..", "/")])
    return output_dir / "overlays" / safe.with_suffix(".png")


class OcrPredictor:
    """The batch job of ``sextant ocr predict``: one row per image, one record per line read."""

    shard_size = 64

    def __init__(self, model_dir: str | Path, page: bool = False, overlay: bool = False,
                 decode: DecodeConfig | None = None, fmt: str = "jsonl", shard_size: int | None = None):
        self.reader = LineReader.from_folder(model_dir, decode)
        self.page, self.overlay, self.fmt = page, overlay, fmt
        self.batch_size = 4 if page else 32  # a page holds many lines
        if shard_size is not None:
            self.shard_size = shard_size

    def rows(self, inputs: Sequence[str]) -> list[InputRow]:
        """Every image under ``inputs``, listed up front (a wrong path fails before any work starts)."""
        return [row for path in inputs for row in file_rows(path, IMAGE_SUFFIXES)]

    def predict(self, rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError | None] = [None] * len(rows)
        crops, owners, layouts = [], [], {}
        for i, row in enumerate(rows):
            try:
                image = read_image(row.payload)
                if self.page:
                    lines, boxes, _, angle = read_page_lines(image)
                    layouts[i] = (boxes, angle)
                else:
                    lines = [image]
            except DataError as err:
                results[i] = RowError(str(err))
                continue
            crops += lines
            owners += [i] * len(lines)
            results[i] = []
        found = self.reader.read(crops)
        for i, line in zip(owners, found, strict=True):
            record = {"image": str(rows[i].payload), "text": line.text, "confidence": round(line.confidence, 4)}
            if self.page:
                boxes, angle = layouts[i]
                k = len(results[i])  # type: ignore[arg-type]
                record.update({"line": k, "box": list(map(int, boxes[k])), "skew_degrees": round(angle, 2)})
            results[i].append(record)  # type: ignore[union-attr]
        return results  # type: ignore[return-value]

    def finish(self, out_dir: Path, summary: InferenceSummary) -> dict[str, str]:
        """``lines.jsonl`` and ``lines.txt`` from every shard, in input order; overlays when asked."""
        out = Path(out_dir)
        records = read_outputs(out)
        atomic_write_text(out / "lines.jsonl", "".join(json.dumps(r) + "\n" for r in records))
        atomic_write_text(out / "lines.txt", "".join(
            f"{r['image']}{':' + str(r['line']) if 'line' in r else ''}\t{r['confidence']:.2f}\t{r['text']}\n"
            for r in records))
        files = {"lines": str(out / "lines.jsonl"), "text": str(out / "lines.txt")}
        if self.overlay and records:
            self._overlays(out, records)
            files["overlays"] = str(out / "overlays")
        return files

    def _overlays(self, out: Path, records: list[dict]) -> None:
        """``overlays/<row_id>.png`` per image: the deskewed page with its line boxes, or the line,
        with the text read (and its confidence) under each line."""
        by_row: dict[str, list[dict]] = {}
        for record in records:
            by_row.setdefault(record["row_id"], []).append(record)
        for row_id, found in by_row.items():
            path = _overlay_path(out, row_id)
            if path.is_file():
                continue  # drawn by an earlier run of the same job
            image = read_image(found[0]["image"])
            texts, confidences = [r["text"] for r in found], [r["confidence"] for r in found]
            if self.page:
                straight, _ = deskew(image)
                png = overlay_png(straight, [tuple(r["box"]) for r in found], texts, confidences)
            else:
                png = lines_overlay_png([image], texts, confidences)
            atomic_write_bytes(path, png)
