"""Recipes of the summarization app's shipped data: Debian package descriptions -> synopses split
on package groups (:mod:`~apps.summarization.datasets.debian`), research abstracts -> titles
(:mod:`~apps.summarization.datasets.abstracts`) and long Wikipedia articles -> lead sections
(:mod:`~apps.summarization.datasets.wikipedia`), both test-only transfer sets, and gensim's Lee
background corpus, unlabelled pretraining text (:mod:`~apps.summarization.datasets.lee`).

The record every recipe produces, :class:`SummaryPair`, lives here so the recipes need nothing
from :mod:`apps.summarization.data` (which reads the user's pairs and assembles the prepared folder).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class SummaryPair:
    """One document and, when known, its reference summary."""

    id: str
    document: str
    summary: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}
