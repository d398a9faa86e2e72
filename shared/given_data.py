"""The read-only data given to the project (``../shared/data``): where it is and how to read its rows.

``abstract_titles.jsonl`` and ``debian_descriptions.jsonl.gz`` hold one JSON object per
line (``document``, ``summary``, and for Debian the ``package``). Several apps read
their sentences or text pairs from them.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

from shared.errors import DataError

ENV_VAR = "SEXTANT_SHARED_DATA"
ABSTRACTS = "abstract_titles.jsonl"
DEBIAN = "debian_descriptions.jsonl.gz"
SOURCES = (ABSTRACTS, DEBIAN)


def shared_data_dir() -> Path:
    """``$SEXTANT_SHARED_DATA``, else ``<repo>/../shared/data``, else ``/work/shared/data``."""
    if os.environ.get(ENV_VAR):
        folder = Path(os.environ[ENV_VAR])
        if not folder.is_dir():
            raise DataError(f"{ENV_VAR}={folder} is not a folder")
        return folder
    repo = Path(__file__).resolve().parents[1]
    for folder in (repo.parent / "shared" / "data", Path("/work/shared/data")):
        if folder.is_dir():
            return folder
    raise DataError(f"shared data folder not found: set {ENV_VAR} to the folder holding {SOURCES[0]}")


def given_rows(data_dir: str | Path, name: str) -> Iterator[dict]:
    """The JSON rows of one given file (``.gz`` read transparently); a bad line is a one-line DataError."""
    path = Path(data_dir) / name
    if not path.is_file():
        raise DataError(f"{path} not found (see {ENV_VAR})")
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}:{number}: bad JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{number}: expected a JSON object")
            yield row


def sentence_splits(sentences: list[str], sizes: dict[str, int], seed: int = 0) -> dict[str, list[str]]:
    """Disjoint splits of the given sizes (e.g. ``{"train": 5000, "valid": 200, "test": 200}``) from a
    seeded shuffle of the distinct sentences; a size of -1 takes all that are left."""
    pool = sorted(set(sentences))
    random.Random(seed).shuffle(pool)
    fixed = sum(n for n in sizes.values() if n >= 0)
    if sum(n < 0 for n in sizes.values()) > 1:
        raise DataError("at most one split can take the rest (size -1)")
    if fixed > len(pool):
        raise DataError(f"splits need {fixed} sentences, only {len(pool)} distinct ones available")
    out, at = {}, 0
    for name, n in sizes.items():
        n = len(pool) - fixed if n < 0 else n
        out[name] = pool[at : at + n]
        at += n
    return out
