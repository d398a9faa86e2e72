"""Batch summarization on the shared batch-inference contract.

Inputs: a JSONL of ``{"document", "id"?}`` lines (row id: the ``id``, else the line
number), a ``.txt`` file (one document), or a folder of ``.txt`` files (row id: the
path inside the folder). An empty, binary or non-UTF-8 document, or a bad JSONL
line, becomes an error row and the job carries on. Records hold the summary, the
input length in tokens, the chunks read and, when a document was longer than the
model reads, ``truncated_tokens``. ``summaries.jsonl`` gathers all records in input
order. Reruns skip finished shards: a killed job resumes without losing or
duplicating a document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from apps.summarization.summarize import Summarizer
from shared.atomic import atomic_write_text
from shared.errors import DataError
from shared.inference import InferenceSummary, InputRow, read_outputs, run_batch_inference
from shared.limits import env_limit


MAX_BYTES_ENV, MAX_BYTES = "SEXTANT_MAX_DOCUMENT_BYTES", 5_000_000  # about a million words


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


def summarize_paths(summarizer: Summarizer, paths: Sequence[str | Path], output_dir: str | Path,
                    progress: bool = True, shard_size: int = 64) -> InferenceSummary:
    """Summarize everything under ``paths`` into ``output_dir`` (resumable); writes summaries.jsonl."""
    rows = [row for path in paths for row in document_rows(path)]

    def predict(batch: list[InputRow]) -> list[list[dict]]:
        found = summarizer.summarize([r.payload for r in batch])
        return [[{"id": r.row_id, **f.to_dict()}] for r, f in zip(batch, found, strict=True)]

    out = Path(output_dir)
    summary = run_batch_inference(rows, predict, out, shard_size=shard_size, batch_size=summarizer.decode.batch_size,
                                  fmt="jsonl", progress=progress)
    atomic_write_text(out / "summaries.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                        for r in read_outputs(out)))
    return summary
