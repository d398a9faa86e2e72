"""Summarizing documents with a trained model folder: chunking, batched beam search, and the batch job.

Inputs: a JSONL of ``{"document", "id"?}`` lines (row id: the ``id``, else the line
number), a ``.txt`` file (one document), or a folder of ``.txt`` files (row id: the
path inside the folder). An empty, binary or non-UTF-8 document, or a bad JSONL
line, becomes an error row and the job carries on; a missing input is a one-line
error before anything runs. Records hold the summary, the input length in tokens,
the chunks read and ``truncated_tokens`` (the tokens beyond what the model reads).
``summaries.jsonl`` gathers all records in input order, ``summaries.txt`` has one
``id<TAB>summary`` line each. Reruns skip finished shards: a killed job resumes
without losing or duplicating a document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from apps.summarization.chunking import chunk_batch
from apps.summarization.config import DecodeConfig
from apps.summarization.model import PointerGeneratorSummarizer
from apps.summarization.sentences import normalize
from shared.atomic import atomic_write_text
from shared.errors import ConfigError, DataError
from shared.inference import InferenceSummary, InputRow, read_outputs
from shared.limits import env_limit
from shared.model_folder import load_model
from shared.tokenizers import Tokenizer

MAX_BYTES_ENV, MAX_BYTES = "SEXTANT_MAX_DOCUMENT_BYTES", 5_000_000  # about a million words


@dataclass
class Summary:
    text: str
    input_tokens: int
    chunks: int
    truncated_tokens: int  # tokens beyond the model's window * max_chunks, not read

    def to_dict(self) -> dict:
        return {"summary": self.text, "input_tokens": self.input_tokens, "chunks": self.chunks,
                "truncated_tokens": self.truncated_tokens}


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


# ------------------------------------------------------------------ reading the batch job's inputs
def check_document(raw: bytes) -> str:
    """The text of ``raw``, or a DataError saying why it cannot be summarized."""
    limit = env_limit(MAX_BYTES_ENV, MAX_BYTES)
    if len(raw) > limit:
        raise DataError(f"{len(raw):,} bytes is over the {limit:,.0f}-byte document limit ({MAX_BYTES_ENV})")
    if b"\x00" in raw:
        raise DataError("binary content, not text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 (byte {err.start})") from None
    if not text.strip():
        raise DataError("empty document")
    return text


def _jsonl_rows(path: Path) -> Iterator[InputRow]:
    ids: set[str] = set()
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
                if not isinstance(row, dict) or not isinstance(row.get("document"), str):
                    raise DataError("expected an object with a 'document' string")
                row_id = str(row.get("id", number))
                if row_id in ids:
                    row_id = f"{row_id}@line{number}"
                ids.add(row_id)
                yield InputRow(row_id, payload=check_document(row["document"].encode("utf-8")))
            except UnicodeDecodeError as err:
                yield InputRow(f"line-{number}", error=f"line {number}: not UTF-8 (byte {err.start})")
            except json.JSONDecodeError as err:
                yield InputRow(f"line-{number}", error=f"line {number}: bad JSON ({err.msg})")
            except DataError as err:
                yield InputRow(str(row.get("id", number)) if isinstance(row, dict) else f"line-{number}",
                               error=f"line {number}: {err}")


def _file_row(path: Path, row_id: str) -> InputRow:
    try:
        with path.open("rb") as handle:  # never read more than the limit allows
            raw = handle.read(int(env_limit(MAX_BYTES_ENV, MAX_BYTES)) + 1)
        return InputRow(row_id, payload=check_document(raw))
    except (DataError, OSError) as err:
        return InputRow(row_id, error=str(err))


def document_rows(path: str | Path) -> list[InputRow]:
    """The rows of one input (see the module docstring); a missing path is a one-line DataError."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"input not found: {path}")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise DataError(f"no .txt files in {path}")
        return [_file_row(f, f.relative_to(path).as_posix()) for f in files]
    if path.suffix.lower() == ".jsonl":
        rows = list(_jsonl_rows(path))
        if not rows:
            raise DataError(f"no documents in {path} (it has no non-blank lines)")
        return rows
    return [_file_row(path, path.name)]


# ------------------------------------------------------------------ the batch job
class SummarizationPredictor:
    """The batch job of ``sextant summarization predict``: one row per document, one record each;
    ``finish`` gathers ``summaries.jsonl`` and ``summaries.txt`` in input order."""

    shard_size = 64

    def __init__(self, model_dir: str | Path, decode: DecodeConfig | None = None, fmt: str = "jsonl"):
        decode = decode or DecodeConfig()
        decode.generation()  # a bad setting fails before the model loads
        self.summarizer = Summarizer.from_folder(model_dir, decode)
        self.batch_size = decode.batch_size
        self.fmt = fmt

    def rows(self, inputs: Sequence[str]) -> list[InputRow]:
        """Every document of every input, read now: a missing input fails before any work starts."""
        return [row for path in inputs for row in document_rows(path)]

    def predict(self, batch: list[InputRow]) -> list[list[dict]]:
        found = self.summarizer.summarize([r.payload for r in batch])
        return [[{"id": r.row_id, **f.to_dict()}] for r, f in zip(batch, found, strict=True)]

    def finish(self, out_dir: Path, summary: InferenceSummary) -> dict[str, str]:
        records = read_outputs(out_dir)
        out = Path(out_dir)
        atomic_write_text(out / "summaries.jsonl", "".join(json.dumps(_plain(r), ensure_ascii=False) + "\n"
                                                            for r in records))
        atomic_write_text(out / "summaries.txt", "".join(_text_line(r) + "\n" for r in records))
        return {"summaries": str(out / "summaries.jsonl"), "text": str(out / "summaries.txt")}


def _plain(record: dict) -> dict:
    """A record as JSON-ready values (parquet shards give numpy integers)."""
    return {k: v.item() if hasattr(v, "item") else v for k, v in record.items()}


def _text_line(record: dict) -> str:
    """``id<TAB>summary``, and how much was read when a document was longer than the model reads."""
    summary = " ".join(str(record["summary"]).split())
    cut = record.get("truncated_tokens") or 0
    note = f"\t(read {record['input_tokens'] - cut} of {record['input_tokens']} tokens)" if cut else ""
    return f"{record['id']}\t{summary}{note}"
