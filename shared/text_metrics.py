"""Text error rates: word and character error rates, case-sensitive or caseless.

Error rates are corpus-level: total edits over total reference length.
Words are whitespace-separated tokens; characters are those of the text with
whitespace collapsed to single spaces and stripped, spaces between words
included. ``caseless=True`` lower-cases both sides first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from shared.errors import DataError


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (unit-cost insertions, deletions, substitutions) between two sequences."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    ids: dict = {}
    row_b = np.array([ids.setdefault(x, len(ids)) for x in b])
    steps = np.arange(len(b) + 1)
    previous = steps.copy()
    for i, x in enumerate(a, start=1):
        token = ids.get(x, -1)
        current = np.empty_like(previous)
        current[0] = i
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (row_b != token))
        # insertions chain along the row: current[j] = min_k(current[k] + j - k)
        previous = np.minimum.accumulate(current - steps) + steps
    return int(previous[-1])


def _units(text: str, unit: str) -> list[str] | str:
    if unit == "word":
        return text.split()
    if unit == "char":
        return " ".join(text.split())
    raise DataError(f"error rate unit must be 'word' or 'char', got {unit!r}")


def error_rate(refs: list[str], hyps: list[str], unit: Literal["word", "char"] = "word", caseless: bool = False) -> float:
    """Corpus-level error rate: sum of edit distances over sum of reference lengths."""
    if len(refs) != len(hyps):
        raise DataError(f"error rate: {len(refs)} references but {len(hyps)} hypotheses")
    edits = total = 0
    for ref, hyp in zip(refs, hyps):
        if caseless:
            ref, hyp = ref.lower(), hyp.lower()
        r, h = _units(ref, unit), _units(hyp, unit)
        edits += edit_distance(r, h)
        total += len(r)
    if total == 0:
        raise DataError("error rate: the references are empty")
    return edits / total


def wer(refs: list[str], hyps: list[str], caseless: bool = False) -> float:
    """Corpus word error rate."""
    return error_rate(refs, hyps, "word", caseless)


def cer(refs: list[str], hyps: list[str], caseless: bool = False) -> float:
    """Corpus character error rate (spaces between words count as characters)."""
    return error_rate(refs, hyps, "char", caseless)
