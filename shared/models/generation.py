"""Autoregressive decoding: greedy and beam search over any step function.

A *step function* takes the tokens so far ``[N, L]`` and a :class:`KVCache`
(or ``None``) and returns next-token logits ``[N, V]``. With a cache it
feeds only the positions the cache has not seen, so each step costs one
position; without one it re-runs the whole prefix. Both paths give the same
tokens, which the tests check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from shared.layers.kv_cache import KVCache

StepFn = Callable[[Tensor, KVCache | None], Tensor]


@dataclass
class GenerationConfig:
    """How to decode.

    ``length_penalty`` divides a finished beam's log-probability by
    ``length ** length_penalty`` (larger values favour longer outputs).
    ``early_stopping=True`` ends a source's search as soon as ``num_beams``
    hypotheses have finished (so one beam is exactly greedy search);
    ``False`` goes on until no running beam could still beat the kept ones.
    """

    max_new_tokens: int = 64
    min_new_tokens: int = 0
    num_beams: int = 1
    length_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    early_stopping: bool = True
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.num_beams < 1:
            raise ValueError("num_beams must be at least 1")


def _block_repeated_ngrams(logits: Tensor, tokens: Tensor, n: int, prefix_len: int) -> None:
    """Forbid tokens that would repeat an n-gram already in each generated row (in place)."""
    generated = tokens[:, prefix_len:]
    if n <= 0 or generated.shape[1] < n - 1 or generated.shape[1] < 1:
        return
    rows = generated.tolist()
    for r, seq in enumerate(rows):
        if len(seq) < n:
            continue
        tail = tuple(seq[len(seq) - n + 1 :]) if n > 1 else ()
        banned = {seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i : i + n - 1]) == tail}
        if banned:
            logits[r, list(banned)] = float("-inf")


def _adjust_logits(logits: Tensor, tokens: Tensor, step: int, prefix_len: int, cfg: GenerationConfig, eos_id: int | None) -> Tensor:
    if eos_id is not None and step < cfg.min_new_tokens:
        logits[:, eos_id] = float("-inf")
    if cfg.no_repeat_ngram_size:
        _block_repeated_ngrams(logits, tokens, cfg.no_repeat_ngram_size, prefix_len)
    return logits


@torch.no_grad()
def greedy_search(
    step_fn: StepFn,
    start_tokens: Tensor,
    cfg: GenerationConfig,
    eos_id: int | None,
    pad_id: int,
    new_cache: Callable[[], KVCache] | None,
) -> Tensor:
    """Pick the most likely token at each step. Returns ``[B, <=max_new_tokens]``
    new tokens; rows that ended early are padded with ``pad_id`` after EOS."""
    tokens = start_tokens
    prefix_len = start_tokens.shape[1]
    cache = new_cache() if (cfg.use_cache and new_cache is not None) else None
    finished = torch.zeros(tokens.shape[0], dtype=torch.bool, device=tokens.device)
    for step in range(cfg.max_new_tokens):
        logits = _adjust_logits(step_fn(tokens, cache).float(), tokens, step, prefix_len, cfg, eos_id)
        next_token = logits.argmax(dim=-1)
        if eos_id is not None:
            next_token = next_token.masked_fill(finished, pad_id)
        tokens = torch.cat([tokens, next_token[:, None]], dim=1)
        if eos_id is not None:
            finished |= next_token == eos_id
            if bool(finished.all()):
                break
    return tokens[:, prefix_len:]


@torch.no_grad()
def beam_search(
    step_fn: StepFn,
    start_tokens: Tensor,
    cfg: GenerationConfig,
    eos_id: int | None,
    pad_id: int,
    new_cache: Callable[[], KVCache] | None,
) -> Tensor:
    """Beam search with length penalty.

    ``start_tokens`` and whatever ``step_fn`` closes over (e.g. encoder
    memory) must already be expanded to ``B * num_beams`` rows, beams of one
    source adjacent. A source stops once ``num_beams`` hypotheses have ended
    with ``cfg.early_stopping`` (then ``num_beams=1`` reproduces greedy search);
    otherwise once no running beam can beat the ``num_beams`` best finished ones.
    """
    k = cfg.num_beams
    n, prefix_len = start_tokens.shape
    if n % k:
        raise ValueError("start_tokens rows must be a multiple of num_beams")
    batch = n // k
    device = start_tokens.device
    tokens = start_tokens
    cache = new_cache() if (cfg.use_cache and new_cache is not None) else None
    beam_scores = torch.zeros(batch, k, device=device)
    beam_scores[:, 1:] = float("-inf")  # all beams start identical: expand only the first
    hypotheses: list[list[tuple[float, list[int]]]] = [[] for _ in range(batch)]
    done = [False] * batch

    def add_hypothesis(b: int, score: float, seq: list[int]) -> None:
        kept = hypotheses[b]
        kept.append((score / max(len(seq), 1) ** cfg.length_penalty, seq))
        kept.sort(key=lambda item: -item[0])
        del kept[k:]

    def finished(b: int, best_running: float, length: int) -> bool:
        """Whether no running beam of source ``b`` can still enter the kept set."""
        if len(hypotheses[b]) < k:
            return False
        if cfg.early_stopping:
            return True
        # Log-probability sums only fall; with a positive penalty the best a
        # beam can still reach is its sum divided by the longest length allowed.
        final_len = cfg.max_new_tokens if cfg.length_penalty > 0 else length
        return hypotheses[b][-1][0] >= best_running / final_len**cfg.length_penalty

    for step in range(cfg.max_new_tokens):
        logits = _adjust_logits(step_fn(tokens, cache).float(), tokens, step, prefix_len, cfg, eos_id)
        vocab = logits.shape[-1]
        logprobs = torch.log_softmax(logits, dim=-1)
        candidates = (beam_scores.view(-1, 1) + logprobs).view(batch, k * vocab)
        top_scores, top_index = candidates.topk(min(2 * k, k * vocab), dim=1)
        top_beam, top_token = top_index // vocab, top_index % vocab

        next_rows = torch.empty(batch, k, dtype=torch.long, device=device)
        next_tokens = torch.full((batch, k), pad_id, dtype=torch.long, device=device)
        next_scores = torch.full((batch, k), float("-inf"), device=device)
        scores_l, beams_l, tokens_l = top_scores.tolist(), top_beam.tolist(), top_token.tolist()
        for b in range(batch):
            if done[b]:
                next_rows[b] = b * k
                continue
            chosen = 0
            for rank in range(len(tokens_l[b])):
                row = b * k + beams_l[b][rank]
                if eos_id is not None and tokens_l[b][rank] == eos_id:
                    if rank < k:  # only hypotheses that would have been kept count
                        seq = tokens[row, prefix_len:].tolist() + [eos_id]
                        add_hypothesis(b, scores_l[b][rank], seq)
                    continue
                next_rows[b, chosen] = row
                next_tokens[b, chosen] = tokens_l[b][rank]
                next_scores[b, chosen] = scores_l[b][rank]
                chosen += 1
                if chosen == k:
                    break
            done[b] = finished(b, float(next_scores[b].max()), step + 1)
        if all(done):
            break
        flat_rows = next_rows.view(-1)
        tokens = torch.cat([tokens.index_select(0, flat_rows), next_tokens.view(-1, 1)], dim=1)
        beam_scores = next_scores
        if cache is not None:
            cache.reorder(flat_rows)

    scores_l = beam_scores.tolist()
    for b in range(batch):
        if not done[b]:
            for j in range(k):
                if scores_l[b][j] > float("-inf"):
                    add_hypothesis(b, scores_l[b][j], tokens[b * k + j, prefix_len:].tolist())
    best = [max(h, key=lambda item: item[0])[1] for h in hypotheses]
    width = max(len(seq) for seq in best)
    out = torch.full((batch, width), pad_id, dtype=torch.long, device=device)
    for b, seq in enumerate(best):
        out[b, : len(seq)] = torch.tensor(seq, dtype=torch.long, device=device)
    return out


def generate(
    step_fn: StepFn,
    start_tokens: Tensor,
    cfg: GenerationConfig,
    eos_id: int | None,
    pad_id: int,
    new_cache: Callable[[], KVCache] | None,
) -> Tensor:
    """Greedy when ``cfg.num_beams == 1``, else beam search (inputs pre-expanded)."""
    search = greedy_search if cfg.num_beams == 1 else beam_search
    return search(step_fn, start_tokens, cfg, eos_id, pad_id, new_cache)
