"""English sentences from real text, for synthesised speech sets.

Documents and summaries of the given data (paper abstracts and Debian package
descriptions) are split into sentences and normalised; sentences of 4 to 20
words whose every word is in the CMU pronouncing dictionary are kept, so a
synthesiser reads each word from its lexicon rather than guessing. The
dictionary is the one shipped in the ``pocketsphinx`` wheel.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path

from apps.speech.text import normalize_english, split_sentences
from shared.errors import DataError
from shared.package_data import package_dir

ENV_VAR = "SEXTANT_SHARED_DATA"
SOURCES = ("abstract_titles.jsonl", "debian_descriptions.jsonl.gz")
MIN_WORDS, MAX_WORDS = 4, 20
_WORDY = re.compile(r"\S*[A-Za-z0-9]\S*")


def shared_data_dir() -> Path:
    """The read-only data given to the project: ``$SEXTANT_SHARED_DATA``, else ``<repo>/../shared/data``,
    else ``/work/shared/data``."""
    if os.environ.get(ENV_VAR):
        folder = Path(os.environ[ENV_VAR])
        if not folder.is_dir():
            raise DataError(f"{ENV_VAR}={folder} is not a folder")
        return folder
    repo = Path(__file__).resolve().parents[2]
    for folder in (repo.parent / "shared" / "data", Path("/work/shared/data")):
        if folder.is_dir():
            return folder
    raise DataError(f"shared data folder not found: set {ENV_VAR} to the folder holding {SOURCES[0]}")


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
        path = data_dir / name
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
