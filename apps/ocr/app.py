"""The OCR App: a handwriting line recognizer trained from scratch (lines and pages), against tesseract.

Data: the rendered set (:mod:`apps.ocr.datasets.rendered`: Debian package synopses drawn in
Debian's handwriting fonts, three font families held out for test, and digit strings written
with real MNIST/UCI digits) or the user's line images with transcripts, a TSV or JSONL file
(:mod:`apps.ocr.data`). One user file is split by a seeded rule, by writer when the file names
writers; a folder gives its own ``train``, ``valid`` and ``test`` files. Evaluation scores CER
and WER per test group, ours next to tesseract on the same image files (:mod:`apps.ocr.metrics`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shared.app import DataReport, Evaluation, SampleFiles, TrainSummary
from shared.errors import ConfigError

if TYPE_CHECKING:
    from apps.ocr.config import OcrConfig
    from apps.ocr.predict import OcrPredictor


@dataclass
class OcrOptions:
    """``sextant ocr predict``'s options, and the batch flow's."""

    page: bool = field(default=False, metadata={"help": "each image is a page: deskew, find the lines, read them "
                                                        "in order"})
    overlay: bool = field(default=False, metadata={"help": "draw overlays/<image>.png with the text read under each "
                                                           "line"})
    decode: Literal["greedy", "beam", "attention"] = field(
        default="beam", metadata={"help": "greedy CTC, CTC prefix beam search, or the attention decoder's beam search "
                                          "(models trained with decoder layers)"})
    beam: int = field(default=8, metadata={"help": "beam width"})
    lm: bool = field(default=True, metadata={"help": "fuse the model folder's character LM into beam search"})
    format: Literal["jsonl", "parquet"] = field(default="jsonl", metadata={
        "help": "output shard format (lines.jsonl and lines.txt gather every line read either way)"})


class OcrApp:
    name = "ocr"
    title = "Handwriting OCR: a transformer line recognizer trained from scratch, against tesseract; lines and pages."
    items = "lines"
    stages = ("train",)
    metric, mode = "cer", "min"
    batch_options = OcrOptions
    data_help = ("line images listed in a TSV (path<TAB>text, or a header row: image, text, writer) or a JSONL "
                 "({\"image\", \"text\", \"writer\"}), paths relative to the file; one file (split for you: 10% test, "
                 "10% validation, by writer when there is a writer or group column) or a folder with train, valid "
                 "and test files")
    input_help = "line images (or pages with --page), folders of them, or .txt/.jsonl manifests listing them"
    examples = (
        "train --data lines.tsv --run runs/ocr-mine  # your line images, split by writer (seeded)",
        "evaluate --data lines.tsv --model runs/ocr-mine/best  # CER/WER next to tesseract on held-out writers",
        "predict scans/ --model runs/ocr-mine/best --out ocr-out/  # lines.jsonl, lines.txt, errors.jsonl",
        "predict pages/ --page --overlay --model runs/ocr/best --out ocr-out/  # deskew, find lines, read in order",
        "predict line.png --model runs/ocr/best --out ocr-out/ --decode greedy",
        "train --config demo --run runs/ocr  # rendered lines in Debian handwriting fonts + digit strings",
        "train --config demo --run runs/ocr --resume  # continue a killed run",
        "train --config demo --run runs/ocr-ddp --nproc 2  # data-parallel (torchrun)",
        "evaluate --config demo --model runs/ocr/best  # per-font CER/WER next to tesseract",
        "train --data my_lines/ --init runs/ocr/best --run runs/ocr-ft  # fine-tune a model on your lines",
    )
    configs = ("default", "demo", "tiny")
    recipe_modules = ("apps.ocr.datasets.corpus", "apps.ocr.datasets.fonts", "apps.ocr.datasets.render",
                      "apps.ocr.datasets.digits", "apps.ocr.datasets.rendered", "apps.ocr.data", "apps.ocr.app")

    def load_config(self, name: str = "default", overrides: Sequence[str] = ()) -> OcrConfig:
        from apps.ocr.config import load_ocr_config

        return load_ocr_config(name, list(overrides))

    def with_data(self, cfg: OcrConfig, source: str) -> OcrConfig:
        """``cfg`` reading the user's line file (split for them) or folder of split files."""
        from apps.ocr.data import user_files
        from shared.paths import config_path

        lines = user_files(config_path(source, "--data"))
        return replace(cfg, data=replace(cfg.data, dataset="lines", lines=lines))

    def prepared_dir(self, cfg: OcrConfig) -> Path:
        """A folder under ``data.cache_dir`` keyed on the rendered set's settings, or on the user's
        files (path, size, time) and the split settings."""
        from shared.paths import config_path

        d = cfg.data
        if d.dataset == "rendered":
            key = json.dumps(asdict(d.rendered), sort_keys=True)
        else:
            files = {k: config_path(v, f"data.lines.{k}") for k, v in sorted(d.lines.items())}
            stats = {k: [str(p), *((p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else ())]
                     for k, p in files.items()}
            key = json.dumps([stats, d.valid_fraction, d.test_fraction, d.split_seed] if "all" in files else [stats])
        return Path(d.cache_dir) / f"{d.dataset}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"

    def is_prepared(self, cfg: OcrConfig, data: Path) -> bool:
        spec = Path(data) / "dataset.json"
        return spec.is_file() and json.loads(spec.read_text()).get("dataset") == cfg.data.dataset

    def prepare(self, cfg: OcrConfig, out: Path) -> Path:
        from apps.ocr.data import prepare_lines, write_spec

        if cfg.data.dataset == "rendered":
            from apps.ocr.datasets.rendered import prepare_rendered

            return write_spec(out, "rendered", prepare_rendered(cfg.data.rendered, Path(out), cfg.train.progress))
        return write_spec(out, "lines", prepare_lines(cfg.data, Path(out)))

    def validate(self, cfg: OcrConfig, data: Path) -> DataReport:
        from apps.ocr.data import validate_data

        report = validate_data(data)
        details = {"test groups": ", ".join(report["groups"]["test"]), "split rule": report["split_rule"]}
        if "writers" in report:
            details["writers"] = ", ".join(f"{s} {n}" for s, n in report["writers"].items())
            details["writers on two sides"] = report["writers_on_two_sides"]
        return DataReport(items=sum(report["lines"].values()), splits=report["lines"], details=details)

    def train(self, cfg: OcrConfig, data: Path, run_dir: Path, stage: str = "train", *, resume: bool = False,
              init: str | None = None) -> TrainSummary:
        from apps.ocr.data import lm_texts, load_split
        from apps.ocr.train import fit_ocr
        from shared import distributed
        from shared.atomic import atomic_write_text

        if stage != "train":
            raise ConfigError(f"ocr has one training stage, train (got {stage!r})")
        train, valid = load_split(data, "train"), load_split(data, "valid")
        fitted = fit_ocr(cfg, train, valid, run_dir, lm_texts(data, train), resume,
                         metadata={"dataset": cfg.data.dataset}, init=init)
        r = fitted.result
        if distributed.current().is_main:
            summary = {"model_dir": str(fitted.model_dir), "val_metric": r.best_metric, "steps": r.step,
                       "train_seconds": r.seconds, "lines_per_second": r.samples_per_second}
            atomic_write_text(Path(run_dir) / "train_summary.json", json.dumps(summary, indent=2) + "\n")
        return TrainSummary(str(fitted.model_dir), r.best_metric, "val_cer", r.step, r.seconds)

    def evaluate(self, cfg: OcrConfig, model_dir: str, data: Path, out_dir: Path,
                 peers: Sequence[str] | None = None) -> Evaluation:
        """CER/WER per test group, ours next to the peers on the same test images."""
        from apps.ocr.data import read_spec
        from apps.ocr.metrics import METRIC, MODE, evaluate_lines

        result = evaluate_lines(cfg, model_dir, data, out_dir, None if peers is None else list(peers))
        rule = read_spec(data).get("split_rule") or "the prepared folder's test split"
        if cfg.evaluate.test_limit:
            rule += f" (the first {cfg.evaluate.test_limit} lines of each group)"
        return Evaluation(table=result["table"], ours=result["ours"], metric=METRIC, mode=MODE,
                          registry_name=self.registry_name(cfg), best_peer=result["best_peer"], split_rule=rule,
                          artifacts={"metrics_md": result["metrics_md"], "metrics_json": result["metrics_json"],
                                     "plot": result["plot"]},
                          markdown=Path(result["metrics_md"]).read_text())

    def predictor(self, model_dir: str, options: OcrOptions) -> OcrPredictor:
        from apps.ocr.config import DecodeConfig
        from apps.ocr.predict import OcrPredictor

        decode = DecodeConfig(method=options.decode, beam_size=options.beam, use_lm=options.lm)
        return OcrPredictor(model_dir, options.page, options.overlay, decode, options.format)

    def registry_name(self, cfg: OcrConfig) -> str:
        return f"{self.name}-{cfg.data.dataset}"

    def sample_files(self, folder: Path) -> SampleFiles:
        """24 package synopses drawn in four training font families, one "writer" each, as PNG line
        images and a TSV (image, text, writer); to read, three of them and a corrupt PNG (an error row)."""
        import shutil

        import numpy as np

        from apps.ocr.datasets.corpus import text_lines
        from apps.ocr.datasets.fonts import can_draw, family_fonts
        from apps.ocr.datasets.render import render_line
        from apps.ocr.images import write_png
        from shared.given_data import shared_data_dir

        folder = Path(folder)
        texts = text_lines(shared_data_dir(), 3000)
        rng = np.random.default_rng(0)
        rows = ["image\ttext\twriter"]
        for writer in ("breip", "comic-neue", "kaushanscript", "rufscript"):
            font = family_fonts(writer)[0]
            picked = [t for t in (texts[i] for i in rng.permutation(len(texts))) if can_draw(font, t)][:6]
            for i, text in enumerate(picked):
                name = f"lines/{writer}-{i}.png"
                write_png(folder / name, render_line(text, font, np.random.default_rng(int(rng.integers(2**31)))))
                rows.append(f"{name}\t{text}\t{writer}")
        (folder / "lines.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        incoming = folder / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        for name in ("breip-0", "comic-neue-1", "rufscript-2"):
            shutil.copy(folder / "lines" / f"{name}.png", incoming / f"{name}.png")
        (incoming / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot an image")
        return SampleFiles(str(folder / "lines.tsv"), str(incoming))


APP = OcrApp()


def main(argv: list[str] | None = None) -> int:
    """``sextant-ocr``: the same as ``sextant ocr``."""
    from shared.cli import app_main

    return app_main(APP, argv)
