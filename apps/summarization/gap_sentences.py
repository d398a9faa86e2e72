"""Gap-sentence generation (PEGASUS): the self-supervised pretraining task.

The most "central" sentences of a document (highest unigram F1 against the
rest of the document, scored one by one) are replaced by a mask token in the
input, and the model learns to write them out. It is close to summarization:
central sentences are the ones a summary would draw on.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

MASK_TOKEN = "<mask_1>"
_WORD = re.compile(r"\w+")


def _unigram_f1(sentence: Counter, rest: Counter) -> float:
    overlap = sum((sentence & rest).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(sentence.values()), overlap / sum(rest.values())
    return 2 * precision * recall / (precision + recall)


def central_sentences(sentences: list[str], count: int) -> list[int]:
    """Indices (ascending) of the ``count`` sentences with the highest unigram F1 against the others."""
    bags = [Counter(w.lower() for w in _WORD.findall(s)) for s in sentences]
    total = sum(bags, Counter())
    scores = [_unigram_f1(bag, total - bag) for bag in bags]
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    return sorted(ranked[:count])


def gap_sentence_example(sentences: list[str], ratio: float, rng: np.random.Generator | None = None,
                         random_share: float = 0.0) -> tuple[str, str] | None:
    """``(input with masks, target)`` for one document, or None if it has fewer than 2 sentences.

    ``round(ratio * n)`` sentences (at least 1, at most n - 1) are chosen: the central ones, except
    that with probability ``random_share`` (needs ``rng``) a random choice is used instead, so the
    model does not only learn where central sentences sit.
    """
    n = len(sentences)
    if n < 2:
        return None
    count = min(n - 1, max(1, round(ratio * n)))
    if rng is not None and random_share and rng.random() < random_share:
        chosen = sorted(rng.choice(n, size=count, replace=False).tolist())
    else:
        chosen = central_sentences(sentences, count)
    picked = set(chosen)
    source = " ".join(MASK_TOKEN if i in picked else s for i, s in enumerate(sentences))
    target = " ".join(sentences[i] for i in chosen)
    return source, target
