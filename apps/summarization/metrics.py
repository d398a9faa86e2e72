"""ROUGE-1/2/L F1 (``rouge-score``, stemmed, offline) and mean summary length, in percent points;
and the evaluation that scores ours next to every peer on the same test documents."""

from __future__ import annotations

import json
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.summarization.config import SummarizationConfig

HEADLINE = ("set", "documents", "rouge1", "rouge2", "rougeL", "words", "docs_per_s")


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


def _score(name: str, model: str, refs: list[str], outputs: list[str], seconds: float) -> dict:
    return {"set": name, "model": model, "documents": len(refs), **rouge(refs, outputs),
            "docs_per_s": len(refs) / max(seconds, 1e-9)}


def markdown_table(table: list[dict]) -> str:
    """The app's metrics table (see :func:`shared.reporting.markdown_table`)."""
    from shared.reporting import markdown_table as format_table

    return format_table(table, HEADLINE, ("documents",))


def _samples_md(samples: list[tuple[str, str, str, str]]) -> str:
    lines = ["# Sample summaries (ours vs the reference)", ""]
    for name, doc_id, ours, ref in samples:
        lines += [f"- **{name} / {doc_id}**", f"  - ours: {ours}", f"  - reference: {ref}"]
    return "\n".join(lines) + "\n"


def evaluate_model(cfg: SummarizationConfig, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                   peers: list[str] | None = None) -> dict:
    """ROUGE of ours and every peer on exactly the same documents of each test set; table, samples, plot.

    The table has one row per (set, model): the transfer sets first, the in-domain test split
    (the headline, :data:`~apps.summarization.data.MAIN_SET`) last.
    """
    from apps.summarization.data import MAIN_SET, load_set
    from apps.summarization.peers import peer_summarizers
    from apps.summarization.plots import rouge_bars_png
    from apps.summarization.predict import Summarizer
    from shared.atomic import atomic_write_bytes, atomic_write_text
    from shared.errors import DataError

    summarizer = Summarizer.from_folder(model_dir, cfg.decode)
    peer_names = cfg.peers if peers is None else list(peers)
    available = peer_summarizers()
    if unknown := [p for p in peer_names if p not in available]:
        raise DataError(f"unknown peer {unknown[0]!r}; available: {', '.join(available)}")
    names = [s for s in cfg.data.transfer() if (Path(data_dir) / f"{s}.jsonl").is_file()] + [MAIN_SET]
    table, samples, notes = [], [], {}
    limits = cfg.evaluate
    for name in names:
        pairs = load_set(data_dir, name)
        limit = limits.long_limit if name == "wikipedia" and limits.long_limit else limits.test_limit
        pairs = pairs[:limit] if limit else pairs
        refs, docs = [p.summary or "" for p in pairs], [p.document for p in pairs]
        decode = limits.long_decode if name == "wikipedia" else cfg.decode
        start = time.perf_counter()
        found = summarizer.summarize(docs, decode)
        table.append(_score(name, "ours", refs, [f.text for f in found], time.perf_counter() - start))
        notes[name] = {"max_chunks_used": max(f.chunks for f in found),
                       "truncated_documents": sum(f.truncated_tokens > 0 for f in found),
                       "median_input_tokens": sorted(f.input_tokens for f in found)[len(found) // 2]}
        samples += [(name, pairs[i].id, found[i].text, refs[i]) for i in range(min(3, len(pairs)))]
        summarizers = peer_summarizers(sentences=3 if name == "wikipedia" else 1)
        for peer in peer_names:
            start = time.perf_counter()
            outputs = [summarizers[peer](d) for d in docs]
            table.append(_score(name, peer, refs, outputs, time.perf_counter() - start))
    out = Path(out_dir)
    labels = {MAIN_SET: "Debian test split" if cfg.data.dataset == "debian" else "your test pairs"}
    atomic_write_text(out / "metrics.json", json.dumps({"table": table, "inputs": notes}, indent=2) + "\n")
    atomic_write_text(out / "metrics.md", markdown_table(table))
    atomic_write_text(out / "samples.md", _samples_md(samples))
    plot = out / "rouge.png"
    atomic_write_bytes(plot, rouge_bars_png(table, labels=labels))
    main = {r["model"]: r for r in table if r["set"] == MAIN_SET}
    ours = {k: v for k, v in main["ours"].items() if isinstance(v, float)}
    ours.update({f"rougeL_{r['set']}": r["rougeL"] for r in table if r["model"] == "ours"})
    best_peer = max((p for p in main if p != "ours"), key=lambda p: main[p]["rougeL"], default=None)
    return {"table": table, "ours": ours, "best_peer": best_peer,
            "best_peer_scores": {k: v for k, v in main[best_peer].items() if isinstance(v, float)} if best_peer else None,
            "plot": str(plot), "inputs": notes, "metric": "rougeL", "mode": "max"}
