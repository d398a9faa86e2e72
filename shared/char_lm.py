"""Character n-gram language model with interpolated modified Kneser-Ney smoothing.

Used for CTC shallow fusion. Every text is padded on the left with
``order - 1`` start symbols and ends with :attr:`CharNgramLM.EOS`, which the
model predicts like a character. The highest order uses raw counts; each
lower order uses continuation counts (how many distinct characters precede
an n-gram), with three discounts per order (Chen & Goodman) estimated from
that order's count-of-counts. The lowest order is interpolated with a uniform
distribution over the alphabet plus EOS, so every history gets a proper
distribution over ``alphabet + EOS`` that sums to 1, unseen characters
included. Saved as JSON, never pickle.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from shared.atomic import atomic_write_text
from shared.errors import DataError

_FORMAT = "sextant-char-ngram-lm"
_VERSION = 1
_CACHE_LIMIT = 200_000


def _discounts(counts: Iterable[int]) -> list[float]:
    """Modified-KN discounts ``[D1, D2, D3+]`` from count-of-counts, with safe fallbacks."""
    n = Counter(c for c in counts if c <= 4)
    n1, n2, n3, n4 = (n.get(i, 0) for i in (1, 2, 3, 4))
    if min(n1, n2, n3, n4) == 0:
        return [0.5, 1.0, 1.5]
    y = n1 / (n1 + 2 * n2)
    raw = [1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3]
    return [min(max(d, 0.05), float(i + 1)) for i, d in enumerate(raw)]


class CharNgramLM:
    """``P(char | history)`` over ``alphabet + EOS``; build with :meth:`train` or :meth:`load`."""

    EOS = "\x03"
    BOS = "\x02"

    def __init__(self, order: int, alphabet: str, counts: list[dict[str, dict[str, int]]], discounts: list[list[float]]):
        if order < 1 or len(counts) != order or len(discounts) != order:
            raise DataError(f"char LM: order {order} does not match {len(counts)} count tables / {len(discounts)} discount sets")
        if self.EOS in alphabet or self.BOS in alphabet or len(set(alphabet)) != len(alphabet):
            raise DataError("char LM: alphabet must be distinct characters without the BOS/EOS control characters")
        self.order = order
        self.alphabet = alphabet
        self.symbols = alphabet + self.EOS
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.counts = counts
        self.discounts = discounts
        self._tables = [self._table(k) for k in range(order)]
        self._cache: dict[str, np.ndarray] = {}

    def _table(self, k: int) -> dict[str, tuple[np.ndarray, np.ndarray, float, float]]:
        """Per context: symbol ids, discounted counts / total, total, back-off weight."""
        d = np.array([0.0, *self.discounts[k]])
        table = {}
        for context, following in self.counts[k].items():
            ids = np.array([self.index[s] for s in following], dtype=np.int64)
            counts = np.array(list(following.values()), dtype=np.float64)
            total = counts.sum()
            disc = d[np.minimum(counts, 3).astype(np.int64)]
            table[context] = (ids, (counts - disc) / total, total, float(disc.sum() / total))
        return table

    @classmethod
    def train(cls, texts: Iterable[str], order: int = 6, alphabet: str | None = None) -> CharNgramLM:
        """Count n-grams of ``texts`` (one sentence each); ``alphabet`` defaults to the characters seen."""
        texts = [t for t in texts if t]
        if not texts:
            raise DataError("char LM: no training text")
        if order < 1:
            raise DataError(f"char LM: order must be >= 1, got {order}")
        seen = set().union(*map(set, texts))
        if alphabet is None:
            alphabet = "".join(sorted(seen))
        elif extra := sorted(seen - set(alphabet)):
            raise DataError(f"char LM: training text has characters outside the alphabet: {extra[:10]}")
        if {cls.BOS, cls.EOS} & seen:
            raise DataError("char LM: training text contains the BOS/EOS control characters")
        pad = cls.BOS * (order - 1)
        grams: Counter[str] = Counter()
        for text in texts:
            padded = pad + text + cls.EOS
            grams.update(padded[i - order + 1:i + 1] for i in range(order - 1, len(padded)))
        by_order = [grams]
        for _ in range(order - 1):  # continuation counts: distinct left extensions of each shorter n-gram
            by_order.append(Counter(gram[1:] for gram in by_order[-1]))
        by_order.reverse()  # index k holds (k+1)-grams
        counts: list[dict[str, dict[str, int]]] = []
        for table in by_order:
            nested: dict[str, dict[str, int]] = {}
            for gram, c in table.items():
                nested.setdefault(gram[:-1], {})[gram[-1]] = c
            counts.append(nested)
        return cls(order, alphabet, counts, [_discounts(t.values()) for t in by_order])

    def _context(self, history: str) -> str:
        keep = self.order - 1
        if keep == 0:
            return ""
        if len(history) >= keep:
            return history[-keep:]
        return self.BOS * (keep - len(history)) + history

    def next_log_probs(self, history: str) -> np.ndarray:
        """Natural-log probabilities aligned with :attr:`symbols` (``alphabet + EOS``); cached per context."""
        context = self._context(history)
        cached = self._cache.get(context)
        if cached is not None:
            return cached
        if bad := sorted(set(context) - set(self.alphabet) - {self.BOS}):
            raise DataError(f"char LM: history has characters outside the alphabet: {bad[:10]}")
        probs = np.full(len(self.symbols), 1.0 / len(self.symbols))
        for k in range(self.order):
            entry = self._tables[k].get(context[len(context) - k:] if k else "")
            if entry is None:
                break  # a longer context containing an unseen one is unseen too
            ids, discounted, _, backoff = entry
            probs = probs * backoff
            probs[ids] += discounted
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        result = np.log(probs)
        result.flags.writeable = False
        self._cache[context] = result
        return result

    def log_prob(self, history: str, char: str) -> float:
        """``ln P(char | history)``; ``char`` is one alphabet character or :attr:`EOS`."""
        i = self.index.get(char)
        if i is None:
            raise DataError(f"char LM: {char!r} is not in the alphabet")
        return float(self.next_log_probs(history)[i])

    def score(self, text: str) -> float:
        """Total natural-log probability of ``text`` followed by EOS."""
        return sum(self.log_prob(text[:i], ch) for i, ch in enumerate(text)) + self.log_prob(text, self.EOS)

    def perplexity(self, texts: Iterable[str]) -> float:
        """Per-symbol perplexity (characters plus one EOS per text)."""
        total, symbols = 0.0, 0
        for text in texts:
            total += self.score(text)
            symbols += len(text) + 1
        if symbols == 0:
            raise DataError("char LM: no text to score")
        return math.exp(-total / symbols)

    def to_dict(self) -> dict:
        return {"format": _FORMAT, "version": _VERSION, "order": self.order, "alphabet": self.alphabet,
                "discounts": self.discounts, "counts": self.counts}

    @classmethod
    def from_dict(cls, data: dict) -> CharNgramLM:
        if data.get("format") != _FORMAT or data.get("version") != _VERSION:
            raise DataError(f"char LM: not a {_FORMAT} v{_VERSION} file")
        return cls(int(data["order"]), data["alphabet"], data["counts"], data["discounts"])

    def save(self, path: str | Path) -> None:
        """Write JSON atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=True, separators=(",", ":")))

    @classmethod
    def load(cls, path: str | Path) -> CharNgramLM:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise DataError(f"char LM: cannot read {path}: {err}") from err
        return cls.from_dict(data)
