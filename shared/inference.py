"""Batch inference: the contract every app implements, and one generic runner.

An app turns its input (a file, a folder or a manifest; see :func:`resolve_inputs`)
into an ordered iterable of :class:`InputRow` and supplies a :data:`PredictFn` that
predicts a batch of rows. :func:`run_batch_inference` does the rest:

- Rows are cut, in order, into shards of ``shard_size`` rows. Shard ``k`` is written
  atomically to ``shard-<k>.parquet`` (or ``.jsonl``), after its error rows went to
  ``errors/shard-<k>.jsonl``.
- Resume: a shard whose output file exists is skipped without calling ``predict``
  (its rows are still read, so later shards line up). A killed job run again
  neither loses nor duplicates rows. Leftover ``*.tmp`` files are never shards.
- A bad row becomes an error row and the job carries on: a row the reader flagged
  (``InputRow.error``), a :class:`RowError` returned by ``predict``, a repeated row
  id, or a row whose single-row call raises when a failing batch is retried row by
  row.
- At the end, ``errors.jsonl`` (one ``{"row_id", "shard", "reason"}`` per line) and
  ``summary.json`` are written, atomically.
- Fan-out: shards are independent units of work. With a :class:`ShardExecutor`
  (passed, or made current with :func:`use_shard_executor`; ``pipelines/fanout.py``
  runs shards as Prefect tasks on a Dask cluster) pending shards are computed
  elsewhere, a few at a time, while this process reads rows and writes each
  finished shard, in order. Resume is the same: done shards are never submitted.

Layout of ``output_dir``::

    shard-00000.parquet       records of rows 0 .. shard_size-1, each with a row_id
    errors/shard-00000.jsonl  that shard's error rows (empty file when none)
    errors.jsonl              all error rows of all complete shards, in shard order
    summary.json              the InferenceSummary fields and exit_code

In parquet, a key that some records lack is a column holding null for them.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import ConfigError, DataError, SextantError
from shared.paths import allowed_roots, confine

Format = Literal["parquet", "jsonl"]
FORMATS: tuple[str, ...] = ("parquet", "jsonl")
MANIFEST_SUFFIXES: tuple[str, ...] = (".jsonl", ".txt")
_SHARD_NAME = re.compile(r"shard-(\d+)\.(parquet|jsonl)")  # full match: "*.tmp" leftovers never match


@dataclass
class InputRow:
    """One unit of work.

    ``row_id`` is stable and unique within the job; ``payload`` is whatever the
    predict function needs; ``error`` (a one-line reason) marks a row the reader
    already knows is bad, which is never passed to ``predict``.
    """

    row_id: str
    payload: Any = None
    error: str | None = None


class RowError(Exception):
    """Raised or returned by a predict function for one bad row; ``str(err)`` is the one-line reason."""


PredictFn = Callable[[list[InputRow]], list[list[dict] | RowError]]
"""For each input row, in order: a list of output records (dicts of JSON-serialisable
values; several per row are fine, none means the row succeeded with no output) or a
:class:`RowError` for that row."""


ShardResult = tuple[list[dict], list[dict]]
"""What computing one shard gives: its output records and its error rows, both in row order."""


class ShardFuture(Protocol):
    def result(self) -> ShardResult: ...


class ShardExecutor(Protocol):
    """Computes shards somewhere else (another process, a cluster): ``submit`` returns at once."""

    max_in_flight: int  # shards submitted but not yet written; bounds memory

    def submit(self, predict: PredictFn, shard: list[InputRow], k: int, batch_size: int) -> ShardFuture: ...


_CURRENT_EXECUTOR: ContextVar[ShardExecutor | None] = ContextVar("shard_executor", default=None)


@contextmanager
def use_shard_executor(executor: ShardExecutor | None) -> Iterator[None]:
    """Within the block, :func:`run_batch_inference` calls that pass no executor use ``executor``.

    This is how a caller fans out an app's batch job without the app knowing about it.
    """
    token = _CURRENT_EXECUTOR.set(executor)
    try:
        yield
    finally:
        _CURRENT_EXECUTOR.reset(token)


@dataclass
class InferenceSummary:
    """What a batch-inference job did. ``rows_per_second`` counts only rows of shards run now."""

    rows: int
    succeeded: int
    errors: int
    skipped_shards: int
    written_shards: int
    seconds: float
    rows_per_second: float
    output_dir: Path
    errors_path: Path

    @property
    def exit_code(self) -> int:
        """1 when there were rows and none succeeded, else 0."""
        return 1 if self.rows > 0 and self.succeeded == 0 else 0

    def line(self) -> str:
        """One human line, e.g. ``1,234 rows: 1,230 ok, 4 errors (errors.jsonl), 812.3 rows/s``."""
        errors = _plural(self.errors, "error") + (f" ({self.errors_path.name})" if self.errors else "")
        parts = [f"{_plural(self.rows, 'row')}: {self.succeeded:,} ok", errors]
        if self.skipped_shards:
            parts.append(f"{_plural(self.skipped_shards, 'shard')} skipped (already done)")
        parts.append(f"{self.rows_per_second:,.1f} rows/s")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields plus ``exit_code``."""
        data = asdict(self)
        data.update(output_dir=str(self.output_dir), errors_path=str(self.errors_path), exit_code=self.exit_code)
        return data


def run_batch_inference(rows: Iterable[InputRow], predict: PredictFn, output_dir: str | Path, *,
                        shard_size: int = 256, batch_size: int = 32, fmt: Format = "parquet",
                        progress: bool = True, total: int | None = None,
                        executor: ShardExecutor | None = None) -> InferenceSummary:
    """Predict every row into sharded files under ``output_dir``, resuming a previous run.

    ``total`` (default: ``len(rows)`` when it has one) sizes the progress bar. ``executor``
    (default: the one set by :func:`use_shard_executor`, else none: this process) computes
    the shards. Raises :class:`~shared.errors.ConfigError` for bad sizes or format, and
    :class:`~shared.errors.DataError` when ``output_dir`` holds shards of the other format.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if shard_size < 1 or batch_size < 1:
        raise ConfigError(f"shard_size and batch_size must be >= 1, got {shard_size} and {batch_size}")
    out = Path(output_dir)
    foreign = [path.name for _, path in _shard_files(out) if path.suffix != f".{fmt}"]
    if foreign:
        raise DataError(f"{out} already holds {foreign[0]}; rerun with that format or use an empty folder")
    (out / "errors").mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out)
    if total is None and isinstance(rows, Sized):
        total = len(rows)
    executor = executor if executor is not None else _CURRENT_EXECUTOR.get()

    start = time.perf_counter()
    seen: set[str] = set()
    counts = {"rows": 0, "errors": 0, "skipped": 0, "written": 0, "processed": 0}
    in_flight: deque[tuple[int, int, ShardFuture]] = deque()

    def finish(k: int, n: int, result: ShardResult) -> None:
        records, error_rows = result
        atomic_write_text(out / "errors" / f"shard-{k:05d}.jsonl", _to_jsonl(error_rows))
        atomic_write_bytes(out / f"shard-{k:05d}.{fmt}", _encode(records, fmt))
        counts["errors"] += len(error_rows)
        counts["written"] += 1
        counts["processed"] += n

    def drain(keep: int) -> None:
        """Write finished shards, oldest first, until at most ``keep`` are in flight."""
        while len(in_flight) > keep:
            done_k, n, future = in_flight.popleft()
            finish(done_k, n, future.result())
            bar.update(n)

    stream = iter(rows)
    with tqdm(total=total, unit="row", desc="infer", disable=not progress, dynamic_ncols=True,
              mininterval=0.5 if sys.stderr.isatty() else 30.0) as bar:
        for k in itertools.count():
            shard = list(itertools.islice(stream, shard_size))
            if not shard:
                break
            counts["rows"] += len(shard)
            if (out / f"shard-{k:05d}.{fmt}").exists():
                seen.update(row.row_id for row in shard)
                counts["errors"] += _count_lines(out / "errors" / f"shard-{k:05d}.jsonl")
                counts["skipped"] += 1
                bar.update(len(shard))
                continue
            shard = _mark_duplicates(shard, seen)
            if executor is None:
                finish(k, len(shard), compute_shard(shard, k, predict, batch_size, bar))
                continue
            in_flight.append((k, len(shard), executor.submit(predict, shard, k, batch_size)))
            drain(keep=max(1, executor.max_in_flight) - 1)
        drain(keep=0)

    errors_path = out / "errors.jsonl"
    merged = [out / "errors" / f"{path.stem}.jsonl" for _, path in _shard_files(out)]
    atomic_write_text(errors_path, "".join(path.read_text(encoding="utf-8") for path in merged if path.exists()))
    seconds = time.perf_counter() - start
    summary = InferenceSummary(rows=counts["rows"], succeeded=counts["rows"] - counts["errors"], errors=counts["errors"],
                               skipped_shards=counts["skipped"], written_shards=counts["written"], seconds=seconds,
                               rows_per_second=counts["processed"] / seconds if seconds > 0 else 0.0,
                               output_dir=out, errors_path=errors_path)
    atomic_write_text(out / "summary.json", json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


def compute_shard(shard: list[InputRow], k: int, predict: PredictFn, batch_size: int,
                  bar: tqdm | None = None) -> ShardResult:
    """Records and error rows of shard ``k``, both in row order (what an executor runs remotely).

    Rows the reader flagged (``error`` set, including repeated ids) are never predicted;
    the others are predicted ``batch_size`` at a time. ``bar`` is advanced per row.
    """
    outcomes: list[list[dict] | str] = [[] for _ in shard]
    todo: list[int] = []
    for i, row in enumerate(shard):
        if row.error is not None:
            outcomes[i] = _first_line(row.error) or "rejected by the reader"
        else:
            todo.append(i)
    if bar is not None:
        bar.update(len(shard) - len(todo))
    for b in range(0, len(todo), batch_size):
        batch = todo[b:b + batch_size]
        for i, outcome in zip(batch, _predict_batch(predict, [shard[i] for i in batch]), strict=True):
            outcomes[i] = outcome
        if bar is not None:
            bar.update(len(batch))
    records: list[dict] = []
    error_rows: list[dict] = []
    for row, outcome in zip(shard, outcomes, strict=True):
        if isinstance(outcome, str):
            error_rows.append({"row_id": row.row_id, "shard": k, "reason": outcome})
        else:
            records.extend(rec if "row_id" in rec else {"row_id": row.row_id, **rec} for rec in outcome)
    return records, error_rows


def read_outputs(output_dir: str | Path) -> list[dict]:
    """All records of all complete shards under ``output_dir``, in shard order."""
    out = Path(output_dir)
    if not out.is_dir():
        raise DataError(f"no inference output at {out}")
    files = _shard_files(out)
    if len({path.suffix for _, path in files}) > 1:
        raise DataError(f"{out} holds both parquet and jsonl shards")
    records: list[dict] = []
    for _, path in files:
        if path.suffix == ".jsonl":
            records.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        else:
            records.extend(pq.read_table(path).to_pylist())
    return records


def resolve_inputs(path: str | Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The input files named by ``path``.

    A file ending in one of ``suffixes`` (case-insensitive) gives itself; a folder
    gives its matching files, recursively, sorted, skipping hidden files and
    folders; a ``.jsonl``/``.txt`` manifest gives one path per line, relative paths
    resolved against the manifest's folder (a JSONL line gives its first string
    value ending in one of ``suffixes``, e.g. ``{"path": "a/b.dat"}``; ``.txt``
    lines starting with ``#`` are comments). Every manifest entry must lie under the
    manifest's folder or a root listed in ``SEXTANT_ALLOWED_ROOTS``: ``../`` escapes and
    outside absolute paths are refused. Manifest entries are not checked for
    existence: the app's reader flags missing ones as error rows. A missing
    ``path``, or one that gives no files, raises :class:`~shared.errors.DataError`.
    """
    path = Path(path)
    ends = tuple(suffix.lower() for suffix in suffixes)
    wanted = "/".join(ends) or "(no suffixes given)"
    if not path.exists():
        raise DataError(f"input not found: {path}")
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(ends)
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
    elif path.name.lower().endswith(ends):
        return [path]
    elif path.suffix.lower() in MANIFEST_SUFFIXES:
        found = _read_manifest(path, ends, wanted)
    else:
        raise DataError(f"{path} is neither a {wanted} file, a folder nor a .jsonl/.txt manifest")
    if not found:
        raise DataError(f"no {wanted} files in {path}")
    return found


def file_rows(path: str | Path, suffixes: tuple[str, ...]) -> list[InputRow]:
    """One row per file :func:`resolve_inputs` finds under ``path``, ``payload`` the file and ``row_id``
    its path relative to the folder (or manifest's folder) it came from; listed up front, so a wrong
    path fails before any work starts."""
    path = Path(path)
    root = path if path.is_dir() else path.parent
    rows = []
    for file in resolve_inputs(path, suffixes):
        try:
            row_id = file.absolute().relative_to(root.absolute()).as_posix()
        except ValueError:  # a manifest entry outside the manifest's folder
            row_id = file.as_posix()
        rows.append(InputRow(row_id, payload=file))
    return rows


# ---------------------------------------------------------------- internals
def _remove_stale_temporaries(out: Path) -> None:
    """Delete the half-written ``.*.tmp`` files a killed run left anywhere under ``out`` (shards, and
    the files an app writes beside them); none is ever readable as an output."""
    for leftover in out.rglob(".*.tmp"):
        if leftover.is_file():
            leftover.unlink(missing_ok=True)


def _mark_duplicates(shard: list[InputRow], seen: set[str]) -> list[InputRow]:
    """The shard with every row whose id came earlier in the job turned into an error row; updates ``seen``."""
    marked = []
    for row in shard:
        marked.append(InputRow(row.row_id, error="duplicate row id") if row.row_id in seen else row)
        seen.add(row.row_id)
    return marked


def _predict_batch(predict: PredictFn, batch: list[InputRow]) -> list[list[dict] | str]:
    """Records or a reason per row; a batch that raises is retried row by row."""
    if len(batch) > 1:
        try:
            return _check(predict(batch), len(batch))
        except Exception:  # noqa: BLE001 - isolate the bad rows below
            pass
    outcomes: list[list[dict] | str] = []
    for row in batch:
        try:
            outcomes.extend(_check(predict([row]), 1))
        except Exception as err:  # noqa: BLE001 - one bad row must not stop the job
            outcomes.append(_reason(err))
    return outcomes


def _check(results: Any, n: int) -> list[list[dict] | str]:
    """Validate what ``predict`` returned for ``n`` rows; RowErrors become reasons."""
    results = list(results)
    if len(results) != n:
        raise ValueError(f"predict returned {len(results)} results for {n} rows")
    checked: list[list[dict] | str] = []
    for result in results:
        if isinstance(result, RowError):
            checked.append(_reason(result))
        elif isinstance(result, (list, tuple)) and all(isinstance(rec, dict) for rec in result):
            checked.append(list(result))
        else:
            raise TypeError(f"predict returned a {type(result).__name__} for a row; "
                            "expected a list of dicts or a RowError")
    return checked


def _reason(err: BaseException) -> str:
    """One-line reason: the message of a RowError or of a SextantError (input the app refused), else
    ``internal error: Type: message``: an exception the app did not expect, that is, a bug."""
    name = type(err).__name__
    if isinstance(err, (RowError, SextantError)):
        return _first_line(str(err)) or name
    return "internal error: " + (_first_line(f"{name}: {err}" if str(err) else name) or name)


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0].strip() if lines else ""


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays (``.item()``/``.tolist()``) into plain JSON values."""
    for method in ("item", "tolist"):
        if hasattr(value, method):
            return getattr(value, method)()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _to_jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(rec, ensure_ascii=False, default=_json_default) + "\n" for rec in records)


def _encode(records: list[dict], fmt: str) -> bytes:
    """A shard file's bytes; an empty shard still gives a valid (empty) file."""
    if fmt == "jsonl":
        return _to_jsonl(records).encode("utf-8")
    keys = list(dict.fromkeys(key for rec in records for key in rec)) or ["row_id"]
    # object columns let pyarrow infer each column's type, so ints stay ints next to nulls
    frame = pd.DataFrame({key: pd.Series([rec.get(key) for rec in records], dtype=object) for key in keys})
    if not records:
        frame = frame.astype("string")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _shard_files(out: Path) -> list[tuple[int, Path]]:
    """(index, path) of every complete shard file in ``out``, by index."""
    if not out.is_dir():
        return []
    return sorted((int(match[1]), path) for path in out.iterdir()
                  if (match := _SHARD_NAME.fullmatch(path.name)) and path.is_file())


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def _read_manifest(manifest: Path, ends: tuple[str, ...], wanted: str) -> list[Path]:
    """Paths listed in a .jsonl or .txt manifest, relative ones resolved against its folder."""
    is_jsonl = manifest.suffix.lower() == ".jsonl"
    roots = allowed_roots(manifest.parent)
    paths: list[Path] = []
    try:
        text = manifest.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{manifest}: not UTF-8 (byte {err.start}); manifests are UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), 1):
        entry: Any = line.strip()
        if not entry or (not is_jsonl and entry.startswith("#")):
            continue
        if is_jsonl:
            try:
                entry = json.loads(entry)
            except json.JSONDecodeError as err:
                raise DataError(f"{manifest}:{number}: not valid JSON ({err.msg})") from None
            values = entry.values() if isinstance(entry, dict) else [entry]
            entry = next((v for v in values if isinstance(v, str) and v.lower().endswith(ends)), None)
            if entry is None:
                raise DataError(f"{manifest}:{number}: no value ending in {wanted}")
        paths.append(confine(entry, manifest.parent, f"{manifest}:{number}", roots))
    return paths

