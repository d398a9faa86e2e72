"""Extractive peers: lead-k, and sumy's LexRank, TextRank and LSA, on our own sentence splitting.

sumy's default tokenizer needs an NLTK download (punkt), so sumy gets a document
built from :func:`~apps.summarization.sentences.split_sentences` (the sentences
lead-k takes) with :func:`~apps.summarization.sentences.words` as its word
tokenizer, sumy's English stop words and its English stemmer (NLTK's Snowball
stemmer, code only, no download). The document is built directly rather than by
``PlaintextParser``, which would treat upper-case lines as headings and join the
lines of a paragraph (list items included) before splitting. Every peer returns
whole sentences of the document, in document order, joined by a space.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from apps.summarization.sentences import split_sentences, words

SUMY_METHODS = {"lexrank": "sumy.summarizers.lex_rank:LexRankSummarizer",
                "textrank": "sumy.summarizers.text_rank:TextRankSummarizer",
                "lsa": "sumy.summarizers.lsa:LsaSummarizer"}
LANGUAGE = "english"


def lead(document: str, k: int) -> str:
    """The first ``k`` sentences."""
    return " ".join(split_sentences(document)[:k])


class RegexTokenizer:
    """The tokenizer sumy's sentences ask for: ``to_sentences`` and ``to_words``, with no NLTK data."""

    language = LANGUAGE

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(split_sentences(paragraph))

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(words(sentence))


def _smoothed_term_frequency(matrix: np.ndarray, smooth: float = 0.4) -> np.ndarray:
    """sumy's ``LsaSummarizer._compute_term_frequency`` vectorised (its Python loop over every cell takes
    seconds on a long article): each column with a non-zero maximum becomes ``smooth + (1 - smooth) * f / max``."""
    assert 0.0 <= smooth < 1.0
    peak = matrix.max(axis=0) if matrix.size else np.zeros(matrix.shape[1])
    used = peak != 0
    matrix[:, used] = smooth + (1.0 - smooth) * matrix[:, used] / peak[used]
    return matrix


@lru_cache(maxsize=None)
def _summarizer(method: str):
    """One sumy summarizer, with the same stemmer and stop words for every method."""
    from sumy.nlp.stemmers import Stemmer
    from sumy.utils import get_stop_words

    module, name = SUMY_METHODS[method].split(":")
    summarizer = getattr(importlib.import_module(module), name)(Stemmer(LANGUAGE))
    if method == "lsa":
        summarizer._compute_term_frequency = _smoothed_term_frequency  # same numbers, no per-cell Python loop
    summarizer.stop_words = get_stop_words(LANGUAGE)
    return summarizer


def sumy_summary(document: str, method: str, sentences: int = 1) -> str:
    """The ``sentences`` sentences sumy's ``method`` ranks highest, in document order.

    A document with no more sentences than asked for is returned whole; if sumy
    fails on odd input (no content words, a degenerate matrix) the lead sentences are returned.
    """
    found = split_sentences(document)
    if len(found) <= max(sentences, 1):
        return " ".join(found) if found else document.strip()
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence

    tokenizer = RegexTokenizer()
    model = ObjectDocumentModel([Paragraph([Sentence(s, tokenizer) for s in found])])
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # LSA warns when a document has fewer words than sentences
            chosen = _summarizer(method)(model, sentences)
    except (ValueError, ArithmeticError, IndexError, KeyError):
        chosen = ()
    return " ".join(str(s) for s in chosen) or " ".join(found[:sentences])


def peer_summarizers(sentences: int = 1) -> dict[str, Callable[[str], str]]:
    """Every peer by name: lead-1, lead-3, and the sumy methods each picking ``sentences`` sentences."""
    peers: dict[str, Callable[[str], str]] = {"lead-1": lambda d: lead(d, 1), "lead-3": lambda d: lead(d, 3)}
    for method in SUMY_METHODS:
        peers[method] = lambda d, m=method: sumy_summary(d, m, sentences)
    return peers
