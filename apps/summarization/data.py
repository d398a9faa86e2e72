"""Document/summary pairs: reading yours, splitting them, and the prepared folder.

Your pairs are JSONL, one ``{"document": ..., "summary": ..., "id"?: ...}`` per line
(``--data`` takes one such file or a folder with ``train.jsonl``, ``valid.jsonl`` and
``test.jsonl``). A split you do not give is cut from the training file by a seeded
rule (:func:`split_pairs`): documents are ordered by a hash of ``seed`` and their
normalized text and dealt to test, then validation, then training, so identical
documents always land on the same side. The shipped sets are recipes in
:mod:`apps.summarization.datasets`.

A prepared folder holds ``{train,valid,test}.jsonl``, the test-only transfer sets
(``abstracts.jsonl``, ``wikipedia.jsonl``), the pretraining passages
(``pretrain.jsonl`` from training documents, ``pretrain_valid.jsonl`` from validation
ones), the BPE ``tokenizer.json`` and ``dataset.json`` (what was prepared from what).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from apps.summarization.datasets import SummaryPair
from apps.summarization.sentences import normalize, split_sentences
from shared.errors import DataError

if TYPE_CHECKING:
    from apps.summarization.config import DataConfig, SummarizationConfig

SPLITS = ("train", "valid", "test")
MAIN_SET = "test"  # the in-domain test split; champions are chosen on its ROUGE-L


def document_key(text: str) -> str:
    """What makes two documents the same: their words, lower-cased, whitespace collapsed."""
    return normalize(text).lower()


def read_pairs(path: str | Path, need_summary: bool = False) -> list[SummaryPair]:
    """Your own pairs: a JSONL of ``{"document", "summary"?, "id"?}`` or a folder of UTF-8 ``.txt`` files
    (one document each). Bad lines are one-line DataErrors naming the line."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise DataError(f"no .txt files in {path}")
        pairs = []
        for f in files:
            try:
                pairs.append(SummaryPair(f.relative_to(path).as_posix(), f.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                raise DataError(f"{f}: not UTF-8 text") from None
    else:
        if not path.is_file():
            raise DataError(f"{path} not found")
        pairs = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: not UTF-8 (byte {err.start})") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}:{number}: bad JSON ({err.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("document"), str):
                raise DataError(f"{path}:{number}: expected an object with a 'document' string")
            if row.get("summary") is not None and not isinstance(row["summary"], str):
                raise DataError(f"{path}:{number}: 'summary' must be a string")
            pairs.append(SummaryPair(str(row.get("id", number)), row["document"], row.get("summary")))
    if need_summary and (missing := [p.id for p in pairs if not (p.summary or "").strip()]):
        raise DataError(f"{path}: {len(missing)} documents have no summary (e.g. {missing[0]})")
    return pairs


def write_pairs(pairs: list[SummaryPair], path: Path) -> None:
    from shared.atomic import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in pairs))


def split_pairs(pairs: list[SummaryPair], shares: dict[str, float], seed: int = 0) -> dict[str, list[SummaryPair]]:
    """``pairs`` dealt into ``"train"`` and the splits in ``shares`` (e.g. ``{"test": 0.1, "valid": 0.1}``).

    Distinct documents (:func:`document_key`) are ordered by ``sha256(f"{seed}:{key}")`` and dealt to
    the splits in ``shares`` in turn until each holds ``round(share * len(pairs))`` pairs (at least one),
    the rest to training; a document's duplicates go with it. Each split keeps the file's order.
    """
    groups: dict[str, list[int]] = {}
    for i, pair in enumerate(pairs):
        groups.setdefault(document_key(pair.document), []).append(i)
    order = sorted(groups, key=lambda k: hashlib.sha256(f"{seed}:{k}".encode()).hexdigest())
    want = {name: max(1, round(share * len(pairs))) for name, share in shares.items()}
    chosen: dict[str, list[int]] = {name: [] for name in [*shares, "train"]}
    for key in order:
        name = next((n for n in shares if len(chosen[n]) < want[n]), "train")
        chosen[name] += groups[key]
    if not chosen["train"]:
        raise DataError(f"only {len(groups)} distinct documents: nothing left to train on after "
                        f"{' and '.join(shares)}")
    return {name: [pairs[i] for i in sorted(index)] for name, index in chosen.items()}


def user_splits(d: DataConfig) -> dict[str, list[SummaryPair]]:
    """Your pairs by split: the files ``d.pairs`` names, the missing splits cut from ``train``."""
    from shared.paths import config_path

    if "train" not in d.pairs:  # checked here, not in the config: a batch flow names dataset=pairs alone
        raise DataError("dataset=pairs needs data.pairs.train (and data.pairs.valid, data.pairs.test, or they are cut "
                        "from it): pass --data PATH")
    given = {s: read_pairs(config_path(d.pairs[s], f"data.pairs.{s}"), need_summary=True) for s in SPLITS
             if s in d.pairs}
    missing = {s: getattr(d.split, s) for s in ("test", "valid") if s not in given}
    if missing:
        given.update(split_pairs(given.pop("train"), missing, d.seed))
    return {s: given[s] for s in SPLITS}


def split_rule(cfg: SummarizationConfig) -> str:
    """Which pairs are held out for the headline score, in one sentence."""
    d = cfg.data
    if d.dataset == "debian":
        rule = (f"the Debian test split: whole package groups (packages sharing a name or their description's first "
                f"sentence) dealt by a seeded hash (seed {d.seed}), never trained or pretrained on")
    elif "test" in d.pairs:
        rule = f"your test file {Path(d.pairs['test']).name}, never trained or pretrained on"
    else:
        rule = (f"{d.split.test:.0%} of your pairs, documents dealt by a seeded hash of their normalized text "
                f"(seed {d.seed}; identical documents stay on one side), never trained or pretrained on")
    if d.transfer():
        rule += f"; {' and '.join(d.transfer())} are test-only transfer sets"
    return rule


def prepared_key(cfg: SummarizationConfig) -> str:
    """The prepared folder's name: the dataset and a hash of everything the folder depends on
    (for your files: their paths, sizes and modification times)."""
    from shared.paths import config_path

    d = cfg.data
    files = {}
    for split, value in sorted(d.pairs.items()):
        path = config_path(value, f"data.pairs.{split}")
        stat = path.stat() if path.is_file() else None
        files[split] = [str(path), stat.st_size if stat else None, stat.st_mtime_ns if stat else None]
    spec = {"dataset": d.dataset, "debian": asdict(d.debian), "seed": d.seed, "pretrain_text": asdict(d.pretrain_text),
            "vocab": cfg.model.vocab_size, "transfer_sets": sorted(d.transfer())}
    if d.dataset == "pairs":
        spec.update(pairs=files, split=asdict(d.split))
    name = "debian" if d.dataset == "debian" else "user"
    return f"{name}-{hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:10]}"


def prepare(cfg: SummarizationConfig, out: str | Path) -> Path:
    """Write the splits, the transfer sets, the pretraining passages and the BPE tokenizer into ``out``."""
    from apps.summarization.datasets.abstracts import abstract_pairs
    from apps.summarization.datasets.debian import debian_splits
    from apps.summarization.datasets.lee import lee_background_text
    from apps.summarization.datasets.wikipedia import article_pairs
    from apps.summarization.gap_sentences import MASK_TOKEN
    from shared.atomic import atomic_write_text
    from shared.given_data import shared_data_dir
    from shared.tokenizers import BPETokenizer

    d = cfg.data
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if d.dataset == "debian":
        splits = debian_splits(shared_data_dir(), d.debian.valid, d.debian.test, d.debian.max_rows, d.seed)
        source = "Debian package descriptions -> synopses (../shared/data), split on package groups"
    else:
        splits = user_splits(d)
        source = "your pairs: " + ", ".join(f"{s}={Path(p).name}" for s, p in sorted(d.pairs.items()))
    for split, pairs in splits.items():
        write_pairs(pairs, out / f"{split}.jsonl")
    transfer = {}
    if "abstracts" in d.transfer():
        transfer["abstracts"] = abstract_pairs(shared_data_dir())
    if "wikipedia" in d.transfer():
        transfer["wikipedia"] = [SummaryPair(r["id"], r["document"], r["summary"]) for r in article_pairs()]
    for name, pairs in transfer.items():
        write_pairs(pairs, out / f"{name}.jsonl")
    texts = [p.document for p in splits["train"]]
    if d.pretrain_text.lee_background:
        texts += lee_background_text()
    train_passages = passages(texts, d.pretrain_text.passage_words)
    if 0 < d.pretrain_text.max_passages < len(train_passages):  # a seeded sample, Lee passages included
        train_passages = random.Random(d.seed).sample(train_passages, d.pretrain_text.max_passages)
    valid_passages = passages([p.document for p in splits["valid"]], d.pretrain_text.passage_words)
    for name, rows in (("pretrain", train_passages), ("pretrain_valid", valid_passages)):
        atomic_write_text(out / f"{name}.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    corpus = [normalize(t) for t in texts] + [normalize(p.summary or "") for p in splits["train"]]
    BPETokenizer.train(corpus, cfg.model.vocab_size, extra_tokens=[MASK_TOKEN]).save(out / "tokenizer.json")
    spec = {"dataset": d.dataset, "source": source, "splits": {s: len(p) for s, p in splits.items()},
            "transfer_sets": {k: len(v) for k, v in transfer.items()}, "pretrain_passages": len(train_passages),
            "split_rule": split_rule(cfg)}
    atomic_write_text(out / "dataset.json", json.dumps(spec, indent=2) + "\n")  # last: marks the folder complete
    return out


def is_prepared(data_dir: str | Path) -> bool:
    return (Path(data_dir) / "dataset.json").is_file()


def load_set(data_dir: str | Path, name: str) -> list[SummaryPair]:
    path = Path(data_dir) / f"{name}.jsonl"
    if not path.is_file():
        raise DataError(f"{data_dir} has no {name} set: run prepare first")
    return read_pairs(path)


def load_passages(data_dir: str | Path, name: str) -> list[list[str]]:
    path = Path(data_dir) / f"{name}.jsonl"
    if not path.is_file():
        raise DataError(f"{data_dir} has no {name} passages: run prepare first")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def available_sets(cfg: SummarizationConfig, data_dir: str | Path) -> list[str]:
    """The splits and the configured transfer sets the prepared folder holds."""
    return [*SPLITS, *(s for s in cfg.data.transfer() if (Path(data_dir) / f"{s}.jsonl").is_file())]


def validate(cfg: SummarizationConfig, data_dir: str | Path) -> dict:
    """Pairs per set; refuses an empty split, an empty document or summary, and a document that is in
    training and in a test or validation set (or in the pretraining passages and a test set)."""
    counts: dict[str, int] = {}
    seen: dict[str, str] = {}
    sets = available_sets(cfg, data_dir)
    for name in sets:
        pairs = load_set(data_dir, name)
        if not pairs:
            raise DataError(f"the {name} set is empty")
        for p in pairs:
            if not p.document.strip() or not (p.summary or "").strip():
                raise DataError(f"{name}: {p.id} has an empty document or summary")
            key = document_key(p.document)
            if name != "train" and seen.get(key) == "train":
                raise DataError(f"{name}: the document of {p.id} is also a training document")
            seen.setdefault(key, name)
        counts[name] = len(pairs)
    pretrained_on = {document_key(" ".join(p)) for p in load_passages(data_dir, "pretrain")}
    for name in sets[2:]:
        if leaked := [p.id for p in load_set(data_dir, name) if document_key(p.document) in pretrained_on]:
            raise DataError(f"{name}: {len(leaked)} documents are in the pretraining text (e.g. {leaked[0]})")
    spec = json.loads((Path(data_dir) / "dataset.json").read_text())
    return {"pairs": counts, "source": spec.get("source"), "pretrain_passages": spec.get("pretrain_passages"),
            "split_rule": spec.get("split_rule")}


def passages(texts: list[str], max_words: int) -> list[list[str]]:
    """Each text cut into runs of whole consecutive sentences of at most ``max_words`` words (a longer
    single sentence is a passage of its own)."""
    out = []
    for text in texts:
        current: list[str] = []
        words = 0
        for sentence in split_sentences(text):
            n = len(sentence.split())
            if current and words + n > max_words:
                out.append(current)
                current, words = [], 0
            current.append(sentence)
            words += n
        if current:
            out.append(current)
    return out
