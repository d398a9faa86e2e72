"""The summarization app's pipeline steps: prepare, validate, pretrain, fine-tune, evaluate, summarize.

Every function takes and returns small things (paths, dicts), so the CLI and the
Prefect flow (``pipelines/summarization.py``) call the same code.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict
from pathlib import Path

from apps.summarization.batch import summarize_paths
from apps.summarization.config import SummarizationConfig, load_summarization_config
from apps.summarization.data import (SummaryPair, abstract_pairs, debian_splits, passages, read_pairs,
                                     write_pairs)
from apps.summarization.gap_sentences import MASK_TOKEN
from apps.summarization.metrics import rouge
from apps.summarization.peers import peer_summarizers
from apps.summarization.plots import rouge_bars_png
from apps.summarization.summarize import DecodeConfig, Summarizer, normalize
from apps.summarization.train import finetune, pretrain
from apps.summarization.wiki import article_pairs, lee_background_text
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.given_data import shared_data_dir
from shared.paths import config_path
from shared.reporting import markdown_table as format_table
from shared.tokenizers import BPETokenizer, load_tokenizer

SPLITS = ("train", "valid", "test")
MAIN_SET = "test"  # the in-domain test split; champions are chosen on its ROUGE-L
TRANSFER_SETS = {"abstracts": "abstract -> title", "wikipedia": "long Wikipedia article -> lead"}


def config(name: str = "default", overrides: list[str] | None = None) -> SummarizationConfig:
    return load_summarization_config(name, overrides)


def dataset_key(cfg: SummarizationConfig) -> str:
    spec = {"dataset": cfg.dataset, "debian": asdict(cfg.debian), "pretrain_text": asdict(cfg.pretrain_text),
            "vocab": cfg.vocab_size,
            "pairs": {k: str(config_path(v, f"pairs.{k}")) for k, v in sorted(cfg.pairs.items())}}
    return f"{cfg.dataset}-{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]}"


def prepared_dir(cfg: SummarizationConfig, data_root: str | Path | None = None) -> Path:
    return Path(data_root or cfg.cache_dir) / dataset_key(cfg)


def prepare_data(cfg: SummarizationConfig, data_root: str | Path | None = None, progress: bool = True) -> str:
    """Write the splits, the transfer sets, the pretraining passages and the BPE tokenizer; returns the folder."""
    out = prepared_dir(cfg, data_root)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.dataset == "debian":
        d = cfg.debian
        splits = debian_splits(shared_data_dir(), d.valid, d.test, d.max_rows, d.seed)
        source = "Debian package descriptions -> synopses (../shared/data), split on package groups"
    else:
        splits = {s: read_pairs(config_path(cfg.pairs[s], f"pairs.{s}"), need_summary=True) for s in SPLITS}
        source = "your JSONL pairs"
    for split, pairs in splits.items():
        write_pairs(pairs, out / f"{split}.jsonl")
    transfer = {}
    if "abstracts" in cfg.transfer_sets:
        transfer["abstracts"] = abstract_pairs(shared_data_dir())
    if "wikipedia" in cfg.transfer_sets:
        transfer["wikipedia"] = [SummaryPair(r["id"], r["document"], r["summary"]) for r in article_pairs()]
    for name, pairs in transfer.items():
        write_pairs(pairs, out / f"{name}.jsonl")
    texts = [p.document for p in splits["train"]]
    if cfg.pretrain_text.lee_background:
        texts += lee_background_text()
    train_passages = passages(texts, cfg.pretrain_text.passage_words)
    if 0 < cfg.pretrain_text.max_passages < len(train_passages):  # a seeded sample, Lee passages included
        train_passages = random.Random(cfg.debian.seed).sample(train_passages, cfg.pretrain_text.max_passages)
    valid_passages = passages([p.document for p in splits["valid"]], cfg.pretrain_text.passage_words)
    for name, rows in (("pretrain", train_passages), ("pretrain_valid", valid_passages)):
        atomic_write_text(out / f"{name}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    corpus = [normalize(t) for t in texts] + [normalize(p.summary or "") for p in splits["train"]]
    BPETokenizer.train(corpus, cfg.vocab_size, extra_tokens=[MASK_TOKEN]).save(out / "tokenizer.json")
    spec = {"dataset": cfg.dataset, "source": source, "splits": {s: len(p) for s, p in splits.items()},
            "transfer_sets": {k: len(v) for k, v in transfer.items()}, "pretrain_passages": len(train_passages)}
    atomic_write_text(out / "dataset.json", json.dumps(spec, indent=2) + "\n")
    return str(out)


def ensure_prepared(cfg: SummarizationConfig, data_root: str | Path | None = None, progress: bool = True) -> str:
    out = prepared_dir(cfg, data_root)
    return str(out) if (out / "dataset.json").is_file() else prepare_data(cfg, data_root, progress)


def load_set(data_dir: str | Path, name: str) -> list[SummaryPair]:
    path = Path(data_dir) / f"{name}.jsonl"
    if not path.is_file():
        raise DataError(f"{data_dir} has no {name} set: run prepare first")
    return read_pairs(path)


def _load_passages(data_dir: str | Path, name: str) -> list[list[str]]:
    return [json.loads(line) for line in (Path(data_dir) / f"{name}.jsonl").read_text().splitlines() if line]


def validate_data(cfg: SummarizationConfig, data_dir: str | Path) -> dict:
    """Counts per set; refuses an empty split, an empty document or summary, and a document that is in
    training and in a test or validation set (or in the pretraining passages and a test set)."""
    report: dict = {"pairs": {}}
    seen: dict[str, str] = {}
    sets = [*SPLITS, *(s for s in cfg.transfer_sets if (Path(data_dir) / f"{s}.jsonl").is_file())]
    for name in sets:
        pairs = load_set(data_dir, name)
        if not pairs:
            raise DataError(f"the {name} set is empty")
        for p in pairs:
            if not p.document.strip() or not (p.summary or "").strip():
                raise DataError(f"{name}: {p.id} has an empty document or summary")
            key = normalize(p.document).lower()
            if name != "train" and seen.get(key) == "train":
                raise DataError(f"{name}: the document of {p.id} is also a training document")
            seen.setdefault(key, name)
        report["pairs"][name] = len(pairs)
    pretrained_on = {normalize(" ".join(p)).lower() for p in _load_passages(data_dir, "pretrain")}
    for name in sets[2:]:
        if leaked := [p.id for p in load_set(data_dir, name) if normalize(p.document).lower() in pretrained_on]:
            raise DataError(f"{name}: {len(leaked)} documents are in the pretraining text (e.g. {leaked[0]})")
    report["series"] = sum(report["pairs"].values())
    return report


def pretrain_model(cfg: SummarizationConfig, data_dir: str | Path, run_dir: str | Path, resume: bool = False) -> dict:
    """Gap-sentence pretraining; returns its model folder (None when ``fit.pretrain.max_steps`` is 0)."""
    if cfg.fit.pretrain.max_steps <= 0:
        return {"model_dir": None, "steps": 0}
    tokenizer = load_tokenizer(Path(data_dir) / "tokenizer.json")
    result = pretrain(cfg.fit, tokenizer, _load_passages(data_dir, "pretrain"), _load_passages(data_dir, "pretrain_valid"),
                      run_dir, resume)
    summary = {"model_dir": str(Path(run_dir) / "best"), "val_loss": result.best_metric, "steps": result.step,
               "seconds": result.seconds, "examples_per_second": result.samples_per_second}
    atomic_write_text(Path(run_dir) / "pretrain_summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def train_model(cfg: SummarizationConfig, data_dir: str | Path, run_dir: str | Path, pretrained: str | None = None,
                resume: bool = False) -> dict:
    """Fine-tune on the training pairs (from ``pretrained`` weights when given); returns the model folder."""
    tokenizer = load_tokenizer(Path(data_dir) / "tokenizer.json")
    pairs = {s: [(p.document, p.summary or "") for p in load_set(data_dir, s)] for s in ("train", "valid")}
    result = finetune(cfg.fit, tokenizer, pairs["train"], pairs["valid"], run_dir, pretrained, resume,
                      metadata={"dataset": cfg.dataset})
    summary = {"model_dir": str(Path(run_dir) / "best"), "val_metric": result.best_metric, "steps": result.step,
               "train_seconds": result.seconds, "pairs_per_second": result.samples_per_second,
               "pretrained": pretrained}
    atomic_write_text(Path(run_dir) / "train_summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _score(name: str, model: str, refs: list[str], outputs: list[str], seconds: float) -> dict:
    return {"set": name, "model": model, "documents": len(refs), **rouge(refs, outputs),
            "docs_per_s": len(refs) / max(seconds, 1e-9)}


def evaluate_model(cfg: SummarizationConfig, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                   peers: list[str] | None = None) -> dict:
    """ROUGE of ours and every peer on exactly the same documents of each test set; table, samples, plot."""
    summarizer = Summarizer.from_folder(model_dir, cfg.decode)
    peer_names = cfg.peers if peers is None else peers
    sets = {MAIN_SET: load_set(data_dir, MAIN_SET)}
    sets.update({s: load_set(data_dir, s) for s in cfg.transfer_sets if (Path(data_dir) / f"{s}.jsonl").is_file()})
    table, samples, notes = [], [], {}
    for name, pairs in sets.items():
        limit = cfg.long_limit if name == "wikipedia" and cfg.long_limit else cfg.test_limit
        pairs = pairs[:limit] if limit else pairs
        refs, docs = [p.summary or "" for p in pairs], [p.document for p in pairs]
        decode = cfg.long_decode if name == "wikipedia" else cfg.decode
        start = time.perf_counter()
        found = summarizer.summarize(docs, decode)
        table.append(_score(name, "ours", refs, [f.text for f in found], time.perf_counter() - start))
        notes[name] = {"max_chunks_used": max(f.chunks for f in found),
                       "truncated_documents": sum(f.truncated_tokens > 0 for f in found),
                       "median_input_tokens": sorted(f.input_tokens for f in found)[len(found) // 2]}
        samples += [(name, pairs[i].id, found[i].text, refs[i]) for i in range(min(3, len(pairs)))]
        available = peer_summarizers(sentences=3 if name == "wikipedia" else 1)
        if unknown := [p for p in peer_names if p not in available]:
            raise DataError(f"unknown peer {unknown[0]!r}; available: {', '.join(available)}")
        for peer in peer_names:
            start = time.perf_counter()
            outputs = [available[peer](d) for d in docs]
            table.append(_score(name, peer, refs, outputs, time.perf_counter() - start))
    out = Path(out_dir)
    atomic_write_text(out / "metrics.json", json.dumps({"table": table, "inputs": notes}, indent=2) + "\n")
    atomic_write_text(out / "metrics.md", markdown_table(table))
    atomic_write_text(out / "samples.md", _samples_md(samples))
    plot = out / "rouge.png"
    atomic_write_bytes(plot, rouge_bars_png(table))
    main = {r["model"]: r for r in table if r["set"] == MAIN_SET}
    ours = {k: v for k, v in main["ours"].items() if isinstance(v, float)}
    ours.update({f"rougeL_{r['set']}": r["rougeL"] for r in table if r["model"] == "ours"})
    best_peer = max((p for p in main if p != "ours"), key=lambda p: main[p]["rougeL"], default=None)
    return {"table": table, "ours": ours, "best_peer": best_peer,
            "best_peer_scores": {k: v for k, v in main[best_peer].items() if isinstance(v, float)} if best_peer else None,
            "plot": str(plot), "inputs": notes, "registry_name": f"summarization-{cfg.dataset}", "metric": "rougeL",
            "mode": "max"}


HEADLINE = ("set", "documents", "rouge1", "rouge2", "rougeL", "words", "docs_per_s")


def markdown_table(table: list[dict]) -> str:
    """The app's metrics table (see :func:`shared.reporting.markdown_table`)."""
    return format_table(table, HEADLINE, ("documents",))


def _samples_md(samples: list[tuple[str, str, str, str]]) -> str:
    lines = ["# Sample summaries (ours vs the reference)", ""]
    for name, doc_id, ours, ref in samples:
        lines += [f"- **{name} / {doc_id}**", f"  - ours: {ours}", f"  - reference: {ref}"]
    return "\n".join(lines) + "\n"


def summarize_path(model_dir: str | Path, input_path: str | Path, output_dir: str | Path,
                   decode: DecodeConfig | None = None, progress: bool = True) -> dict:
    """Batch summaries of a JSONL, a .txt file or a folder of them (see :mod:`apps.summarization.batch`)."""
    summary = summarize_paths(Summarizer.from_folder(model_dir, decode), [input_path], output_dir, progress=progress)
    return {**summary.to_dict(), "line": summary.line()}
