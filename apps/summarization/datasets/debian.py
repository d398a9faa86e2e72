"""Debian package descriptions -> synopses (``../shared/data``), split into train/valid/test by group.

Pairs are split by *group*, not row: packages that share a name or the first
sentence of their description (``libfoo1``, ``libfoo-dev`` and ``libfoo-doc``
usually do) always land on the same side, so no near-copy of a test description
is trained on.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from apps.summarization.datasets import SummaryPair
from apps.summarization.sentences import split_sentences
from shared.errors import DataError
from shared.given_data import DEBIAN, given_rows


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


def debian_rows(data_dir: str | Path, max_rows: int = 0) -> list[dict]:
    """The given pairs with a non-empty description and synopsis (the first ``max_rows``; 0 = all)."""
    rows = []
    for row in given_rows(data_dir, DEBIAN):
        if row.get("document", "").strip() and row.get("summary", "").strip():
            rows.append(row)
        if max_rows and len(rows) >= max_rows:
            break
    return rows


def debian_splits(data_dir: str | Path, valid: int, test: int, max_rows: int = 0,
                  seed: int = 0) -> dict[str, list[SummaryPair]]:
    """Train/valid/test Debian pairs, split on groups (see the module docstring) by a seeded hash."""
    rows = debian_rows(data_dir, max_rows)
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
