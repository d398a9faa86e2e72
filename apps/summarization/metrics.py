"""ROUGE-1/2/L F1 (``rouge-score``, stemmed, offline) and mean summary length, in percent points."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge(references: list[str], summaries: list[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 x 100 over pairs, and the mean summary length in words."""
    if len(references) != len(summaries) or not references:
        raise ValueError("need as many summaries as references, at least one")
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for ref, hyp in zip(references, summaries):
        scores = _scorer().score(ref, hyp)
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = len(references)
    out = {k: 100 * v / n for k, v in totals.items()}
    out["words"] = sum(len(s.split()) for s in summaries) / n
    return out
