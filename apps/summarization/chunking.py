"""Cutting a long token sequence into encoder-sized chunks, and batching them.

Every token lands in exactly one chunk, in order, so the encoder sees the whole
document; only a document longer than ``window * max_chunks`` tokens loses its
tail, and the number of tokens dropped is returned so the caller can say so.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from shared.tokenizers import PAD_ID


def chunk_ids(ids: Sequence[int], window: int, max_chunks: int) -> tuple[list[list[int]], int]:
    """``ids`` in consecutive chunks of at most ``window`` tokens (at most ``max_chunks`` of them, at least
    one) and how many tokens did not fit."""
    if window < 1 or max_chunks < 1:
        raise ValueError("window and max_chunks must be positive")
    ids = list(ids)
    chunks = [ids[i : i + window] for i in range(0, len(ids), window)] or [[]]
    dropped = sum(len(c) for c in chunks[max_chunks:])
    return chunks[:max_chunks], dropped


def chunk_batch(sequences: Sequence[Sequence[int]], window: int, max_chunks: int) -> tuple[Tensor, list[int]]:
    """``[B, C, W]`` padded chunk ids (``C`` the most chunks in the batch; ``W`` the window, or the
    longest sequence when every one fits in one chunk) and the tokens dropped per sequence."""
    chunked = [chunk_ids(s, window, max_chunks) for s in sequences]
    n_chunks = max(len(c) for c, _ in chunked)
    width = window if n_chunks > 1 else max(1, max(len(c[0]) for c, _ in chunked))
    out = torch.full((len(sequences), n_chunks, width), PAD_ID, dtype=torch.long)
    for b, (chunks, _) in enumerate(chunked):
        for c, chunk in enumerate(chunks):
            if chunk:
                out[b, c, : len(chunk)] = torch.as_tensor(chunk, dtype=torch.long)
    return out, [dropped for _, dropped in chunked]
