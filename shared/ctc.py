"""CTC decoding (greedy, prefix beam search with optional char-LM shallow fusion) and duration extraction.

All functions take one utterance's log-probabilities ``[T, V]`` (numpy or
torch) with the blank at index ``blank``.

Beam search keeps, per prefix, the log-probability of all alignments ending
in a blank and of those ending in its last symbol. With an LM, extending a
prefix by a character adds ``lm_weight * ln P_lm(char | prefix text)``, plus
``char_bonus`` per character and ``word_bonus`` per word (counted when a
non-space character starts a word), to offset the LM's bias towards short
outputs; the final ranking adds ``lm_weight * ln P_lm(EOS | text)``. Without an
LM no bonus is applied, so the search is plain CTC prefix beam search.
``id_to_char`` (a list or a dict) maps ids to text; an id it lacks or maps to
"" (a special token) is never emitted when an LM is used, and a token of
several characters is scored as their chain of LM probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torchaudio

if TYPE_CHECKING:
    from shared.char_lm import CharNgramLM

NEG_INF = float("-inf")
_ALWAYS_KEEP = 3  # best symbols per frame kept whatever ``prune`` says


def _as_numpy(log_probs, length: int | None) -> np.ndarray:
    array = log_probs.detach().float().cpu().numpy() if isinstance(log_probs, torch.Tensor) else np.asarray(log_probs, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"CTC log-probs must be [T, V], got shape {array.shape}")
    return array if length is None else array[:length]


def _logaddexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


def greedy_decode(log_probs, blank: int = 0, length: int | None = None) -> list[int]:
    """Best path: argmax per frame, merge repeats, drop blanks."""
    best = _as_numpy(log_probs, length).argmax(axis=1).tolist()
    out, previous = [], None
    for token in best:
        if token != previous and token != blank:
            out.append(token)
        previous = token
    return out


def _candidates(array: np.ndarray, prune: float, blank: int) -> list[list[tuple[int, float]]]:
    """Per frame, ``(symbol, log_prob)`` for symbols above ``prune``, the best few, and the blank."""
    keep = array > prune
    top = np.argpartition(-array, min(_ALWAYS_KEEP, array.shape[1]) - 1, axis=1)[:, :_ALWAYS_KEEP]
    np.put_along_axis(keep, top, True, axis=1)
    keep[:, blank] = True
    rows = []
    for t in range(array.shape[0]):
        ids = np.flatnonzero(keep[t])
        rows.append(list(zip(ids.tolist(), array[t, ids].tolist())))
    return rows


def beam_search(log_probs, beam_size: int = 8, blank: int = 0, lm: CharNgramLM | None = None,
                id_to_char: Sequence[str] | dict[int, str] | None = None, lm_weight: float = 0.5,
                word_bonus: float = 1.0, char_bonus: float = 0.0, prune: float = -12.0,
                length: int | None = None) -> list[int]:
    """CTC prefix beam search; with ``lm`` (and ``id_to_char``) shallow fusion of a character LM."""
    array = _as_numpy(log_probs, length)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    chars: list[str | None] = [None] * array.shape[1]
    if lm is not None:
        if id_to_char is None:
            raise ValueError("beam search with an LM needs id_to_char")
        lookup = id_to_char if isinstance(id_to_char, dict) else dict(enumerate(id_to_char))
        chars = [lookup.get(i) or None if i != blank else None for i in range(array.shape[1])]
        missing = sorted({ch for token in chars if token for ch in token} - set(lm.alphabet))
        if missing:
            raise ValueError(f"vocabulary characters missing from the LM alphabet: {missing[:10]}")
    # prefix -> [log P(alignments ending in blank), log P(ending in its last symbol), text]
    beams: dict[tuple[int, ...], list] = {(): [0.0, NEG_INF, ""]}
    fused: dict[tuple[int, ...], float] = {}  # LM score and bonuses of a prefix's last extension
    rows = _candidates(array, prune, blank)
    if lm is not None:  # ids without a character (special tokens) are never emitted
        rows = [[(c, p) for c, p in row if c == blank or chars[c] is not None] for row in rows]
    for row in rows:
        nxt: dict[tuple[int, ...], list] = {}
        for prefix, (pb, pnb, text) in beams.items():
            total = _logaddexp(pb, pnb)
            last = prefix[-1] if prefix else None
            lm_row = None  # the LM's next-symbol log-probs after this prefix, fetched when first needed
            for c, p in row:
                if c == blank:
                    entry = nxt.get(prefix)
                    if entry is None:
                        nxt[prefix] = [total + p, NEG_INF, text]
                    else:
                        entry[0] = _logaddexp(entry[0], total + p)
                    continue
                if c == last:  # staying on the same symbol does not extend the prefix
                    entry = nxt.get(prefix)
                    if entry is None:
                        nxt[prefix] = [NEG_INF, pnb + p, text]
                    else:
                        entry[1] = _logaddexp(entry[1], pnb + p)
                    source = pb  # a repeat needs a blank in between
                else:
                    source = total
                if source == NEG_INF:
                    continue
                new = prefix + (c,)
                score = source + p
                if lm is not None:
                    extra = fused.get(new)
                    if extra is None:
                        token = chars[c]
                        if len(token) == 1:
                            if lm_row is None:
                                lm_row = lm.next_log_probs(text)
                            extra = lm_weight * float(lm_row[lm.index[token]]) + char_bonus
                        else:
                            extra = sum(lm.log_prob(text + token[:k], ch) for k, ch in enumerate(token)) * lm_weight
                            extra += char_bonus * len(token)
                        if token[0] != " " and (not text or text[-1] == " "):
                            extra += word_bonus
                        fused[new] = extra
                    score += extra
                entry = nxt.get(new)
                if entry is None:
                    nxt[new] = [NEG_INF, score, text + chars[c] if lm is not None else ""]
                else:
                    entry[1] = _logaddexp(entry[1], score)
        if len(nxt) > beam_size:
            ranked = sorted(nxt.items(), key=lambda kv: _logaddexp(kv[1][0], kv[1][1]), reverse=True)
            nxt = dict(ranked[:beam_size])
        beams = nxt

    def final(item) -> float:
        _, (pb, pnb, text) = item
        score = _logaddexp(pb, pnb)
        return score + lm_weight * lm.log_prob(text, lm.EOS) if lm is not None else score

    return list(max(beams.items(), key=final)[0])


def forced_align_durations(log_probs, targets: Sequence[int], blank: int = 0) -> list[int]:
    """Frames per target token from the best CTC alignment; the durations sum to ``T``.

    Blank frames are shared out by one rule: leading blanks go to the first
    token, trailing blanks to the last, and a run of ``n`` blanks between two
    tokens gives ``ceil(n / 2)`` frames to the token before and ``floor(n / 2)``
    to the token after.
    """
    lp = torch.as_tensor(log_probs).detach().float().cpu()
    if lp.dim() != 2:
        raise ValueError(f"CTC log-probs must be [T, V], got shape {list(lp.shape)}")
    targets = [int(t) for t in targets]
    if not targets:
        raise ValueError("forced alignment needs at least one target token")
    if blank in targets or min(targets) < 0 or max(targets) >= lp.shape[1]:
        raise ValueError(f"targets must be non-blank ids below {lp.shape[1]}")
    frames = lp.shape[0]
    needed = len(targets) + sum(a == b for a, b in zip(targets, targets[1:]))
    if frames < needed:
        raise ValueError(f"{frames} frames cannot align {len(targets)} tokens (needs {needed} with repeats)")
    path, _ = torchaudio.functional.forced_align(lp.unsqueeze(0), torch.tensor([targets], dtype=torch.int32), blank=blank)
    labels = path[0].tolist()
    durations = [0] * len(targets)
    token, previous, pending = -1, blank, 0  # pending: blanks since the last token frame
    for label in labels:
        if label == blank:
            pending += 1
        else:
            if label != previous:  # a new token starts (a repeat is always preceded by a blank)
                if token < 0:
                    durations[0] += pending
                else:
                    durations[token] += pending - pending // 2
                    durations[token + 1] += pending // 2
                token += 1
                pending = 0
            durations[token] += 1
        previous = label
    durations[-1] += pending
    if token != len(targets) - 1 or sum(durations) != frames:
        raise ValueError("forced alignment did not visit every target token")
    return durations
