"""Training windows for a base model: synthetic series, the extra real corpus and the training
spans of the configured datasets, mixed in set shares.

Synthetic series are drawn once into a pool (:func:`synthetic_pool`, pure in its seed), and
every window is a pure function of ``(seed, index)``, so a resumed run sees exactly the
windows it would have seen. Corpus series are drawn dataset first, then series, so the
World Bank's two hundred fertility series do not drown the one Nile series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from torch import Tensor
from torch.utils.data import Dataset

from apps.forecasting.datasets.corpus import CORPUS, load_corpus
from apps.forecasting.datasets.synthetic import generate
from apps.forecasting.windows import _positions, window_item


@dataclass
class PretrainConfig:
    """Pretraining a base model (the ``base`` config). Off (``enabled: false``) for every other
    config: those train on their datasets' windows alone."""

    enabled: bool = False
    synthetic_share: float = 0.5  # of the training windows; the corpus has corpus_share, the datasets the rest
    corpus_share: float = 0.25
    corpus: list[str] = field(default_factory=lambda: list(CORPUS))
    synthetic_series: int = 4000  # the pool's size
    synthetic_length: int = 256

    def __post_init__(self) -> None:
        if not (0 <= self.synthetic_share <= 1 and 0 <= self.corpus_share <= 1 and self.synthetic_share + self.corpus_share <= 1):
            raise ValueError("pretrain.synthetic_share and corpus_share must be in [0, 1] and sum to at most 1")
        unknown = sorted(set(self.corpus) - set(CORPUS))
        if unknown:
            raise ValueError(f"pretrain.corpus: unknown {', '.join(unknown)}; available: {', '.join(CORPUS)}")


Series = tuple[np.ndarray, int]  # values (float32) and season length


@lru_cache(maxsize=2)
def synthetic_pool(seed: int, count: int, length: int) -> list[Series]:
    """``count`` synthetic series of stream ``seed`` (see :func:`~apps.forecasting.datasets.synthetic.generate`);
    cached, since a benchmark pretrains several base models in one process (callers must not modify it)."""
    return [generate(seed, i, length)[:2] for i in range(count)]


def corpus_series(names: list[str]) -> dict[str, list[Series]]:
    """The named corpus datasets' series, by dataset, in time order."""
    if not names:
        return {}
    frame = load_corpus(names).sort_values(["dataset", "unique_id", "ds"], kind="stable")
    out: dict[str, list[Series]] = {}
    for (dataset, _), f in frame.groupby(["dataset", "unique_id"], sort=True):
        out.setdefault(str(dataset), []).append((f["y"].to_numpy(np.float32), CORPUS[str(dataset)].season_length))
    return out


class PretrainWindows(Dataset):
    """``count`` windows: a share from ``synthetic``, a share from ``corpus`` (dataset, then series)
    and the rest from ``datasets`` (dataset, then series), each at a random position."""

    def __init__(self, datasets: dict[str, list[Series]], corpus: dict[str, list[Series]], synthetic: list[Series],
                 cfg: PretrainConfig, lookback: int, horizon: int, count: int, seed: int = 0, min_context: int = 8):
        self.sources = [(cfg.synthetic_share if synthetic else 0.0, {"synthetic": synthetic}),
                        (cfg.corpus_share if corpus else 0.0, corpus),
                        (1.0 - cfg.synthetic_share - cfg.corpus_share if datasets else 0.0, datasets)]
        total = sum(share for share, _ in self.sources)
        if total <= 0:
            raise ValueError("no series to pretrain on")
        self.shares = np.array([share / total for share, _ in self.sources])
        self.lookback, self.horizon, self.count, self.seed, self.min_context = lookback, horizon, count, seed, min_context

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        rng = np.random.default_rng([self.seed, index])
        groups = self.sources[int(rng.choice(len(self.sources), p=self.shares))][1]
        names = sorted(groups)
        members = groups[names[int(rng.integers(len(names)))]]
        values, season = members[int(rng.integers(len(members)))]
        t = int(rng.choice(_positions(len(values), self.min_context)))
        return window_item(values, t, self.lookback, self.horizon, season)
