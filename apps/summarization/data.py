"""Document/summary pairs: the given Debian and abstract sets, long Wikipedia articles, and yours.

Debian pairs are split into train/valid/test by *group*, not row: packages that
share a name or the first sentence of their description (``libfoo1``,
``libfoo-dev`` and ``libfoo-doc`` usually do) always land on the same side, so
no near-copy of a test description is trained on. The abstract -> title set and
the long Wikipedia articles are test sets only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from apps.summarization.sentences import split_sentences
from shared.errors import DataError
from shared.given_data import ABSTRACTS, DEBIAN, given_rows


@dataclass
class SummaryPair:
    """One document and, when known, its reference summary."""

    id: str
    document: str
    summary: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _groups(rows: list[dict]) -> list[int]:
    """A group id per row: union of rows sharing a package name or a first description sentence."""
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        sentences = split_sentences(row["document"])
        for key in (f"p:{row['package']}", f"s:{_key(sentences[0] if sentences else row['document'])}"):
            j = first_seen.setdefault(key, i)
            parent[find(i)] = find(j)
    return [find(i) for i in range(len(rows))]


def debian_splits(data_dir: str | Path, valid: int, test: int, max_rows: int = 0,
                  seed: int = 0) -> dict[str, list[SummaryPair]]:
    """Train/valid/test Debian pairs, split on groups (see the module docstring) by a seeded hash."""
    rows = []
    for row in given_rows(data_dir, DEBIAN):
        if row.get("document", "").strip() and row.get("summary", "").strip():
            rows.append(row)
        if max_rows and len(rows) >= max_rows:
            break
    groups = _groups(rows)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups):
        members.setdefault(g, []).append(i)
    order = sorted(members, key=lambda g: hashlib.sha256(f"{seed}:{rows[g]['package']}".encode()).hexdigest())
    out: dict[str, list[SummaryPair]] = {"valid": [], "test": [], "train": []}
    for g in order:
        split = "test" if len(out["test"]) < test else "valid" if len(out["valid"]) < valid else "train"
        out[split] += [SummaryPair(rows[i]["package"], rows[i]["document"], rows[i]["summary"]) for i in members[g]]
    if not out["train"]:
        raise DataError(f"only {len(rows)} Debian pairs: nothing left to train on after valid and test")
    return out


def abstract_pairs(data_dir: str | Path) -> list[SummaryPair]:
    """The research abstract -> title transfer set (test only)."""
    return [SummaryPair(f"abstract-{i}", r["document"], r["summary"])
            for i, r in enumerate(given_rows(data_dir, ABSTRACTS))]


def read_pairs(path: str | Path, need_summary: bool = False) -> list[SummaryPair]:
    """Your own pairs: a JSONL of ``{"document", "summary"?, "id"?}`` or a folder of UTF-8 ``.txt`` files
    (one document each). Bad lines are one-line DataErrors naming the line."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"no .txt files in {path}")
        pairs = []
        for f in files:
            try:
                pairs.append(SummaryPair(f.relative_to(path).as_posix(), f.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                raise DataError(f"{f}: not UTF-8 text") from None
    else:
        if not path.is_file():
            raise DataError(f"{path} not found")
        pairs = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: bad JSON ({err.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("document"), str):
                raise DataError(f"{path}:{number}: expected an object with a 'document' string")
            pairs.append(SummaryPair(str(row.get("id", number)), row["document"], row.get("summary")))
    if need_summary and (missing := [p.id for p in pairs if not p.summary]):
        raise DataError(f"{path}: {len(missing)} documents have no summary (e.g. {missing[0]})")
    return pairs


def write_pairs(pairs: list[SummaryPair], path: Path) -> None:
    from shared.atomic import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in pairs))


def passages(texts: list[str], max_words: int) -> list[list[str]]:
    """Each text cut into runs of whole consecutive sentences of at most ``max_words`` words (a longer
    single sentence is a passage of its own)."""
    out = []
    for text in texts:
        current: list[str] = []
        words = 0
        for sentence in split_sentences(text):
            n = len(sentence.split())
            if current and words + n > max_words:
                out.append(current)
                current, words = [], 0
            current.append(sentence)
            words += n
        if current:
            out.append(current)
    return out
