"""Text for rendered lines: real one-line package synopses from the given Debian descriptions.

They read like short handwritten notes (names, versions, punctuation, mixed case).
Synopses of 6 to 48 printable ASCII characters are kept, deduplicated (ignoring
case, since capitals-only fonts upper-case their lines) and sorted, so splits made by
:func:`shared.given_data.sentence_splits` never share a line.
"""

from __future__ import annotations

import string
from pathlib import Path

from shared.given_data import DEBIAN, given_rows

PRINTABLE = frozenset(string.printable[:95])  # ASCII letters, digits, punctuation and space
MIN_CHARS, MAX_CHARS = 6, 48


def text_lines(data_dir: str | Path, max_rows: int | None = None) -> list[str]:
    """Distinct synopses that fit on one line, in sorted order."""
    kept = set()
    for index, row in enumerate(given_rows(data_dir, DEBIAN)):
        if max_rows is not None and index >= max_rows:
            break
        text = " ".join(str(row.get("summary") or "").split())
        if MIN_CHARS <= len(text) <= MAX_CHARS and set(text) <= PRINTABLE:
            kept.add(text)
    by_case: dict[str, str] = {}
    for text in sorted(kept):  # one spelling per caseless text: capitals-only fonts upper-case lines
        by_case.setdefault(text.lower(), text)
    return sorted(by_case.values())
