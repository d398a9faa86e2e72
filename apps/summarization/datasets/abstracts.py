"""Research abstracts -> titles (``../shared/data``): a test-only transfer set."""

from __future__ import annotations

from pathlib import Path

from apps.summarization.datasets import SummaryPair
from shared.given_data import ABSTRACTS, given_rows


def abstract_pairs(data_dir: str | Path) -> list[SummaryPair]:
    """The research abstract -> title transfer set (test only)."""
    return [SummaryPair(f"abstract-{i}", r["document"], r["summary"])
            for i, r in enumerate(given_rows(data_dir, ABSTRACTS))]
