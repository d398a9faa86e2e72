"""The summarization App: an encoder-decoder with copying, pretrained from scratch (gap sentences),
then fine-tuned, against lead-k and sumy's LexRank, TextRank and LSA.

Data: the given Debian description -> synopsis pairs (split on package groups), or
your JSONL pairs (``{"document", "summary", "id"?}`` per line: one file, split by a
seeded hash of the document text, or a folder with ``train/valid/test.jsonl``).
Stages: ``pretrain`` (gap sentences on the training documents and gensim's Lee
corpus) then ``train`` (fine-tuning, ``--init`` the pretrained model). Evaluation:
ROUGE on the in-domain test split (the headline: ROUGE-L) and on two test-only
transfer sets, abstract -> title and long Wikipedia articles -> lead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shared.app import DataReport, Evaluation, SampleFiles, TrainSummary
from shared.errors import ConfigError, DataError

if TYPE_CHECKING:
    from apps.summarization.config import SummarizationConfig
    from apps.summarization.predict import SummarizationPredictor

SPLIT_FILES = ("train.jsonl", "valid.jsonl", "test.jsonl")


@dataclass
class SummarizationOptions:
    """``sextant summarization predict``'s options, and the batch flow's."""

    beams: int = field(default=4, metadata={"help": "beam width (1: greedy)"})
    max_length: int = field(default=40, metadata={"help": "most summary tokens (about 1.3 per word)"})
    min_length: int = field(default=3, metadata={"help": "fewest summary tokens"})
    no_repeat_ngram: int = field(default=3, metadata={"help": "never repeat an n-gram of this many tokens (0: off)"})
    length_penalty: float = field(default=1.0, metadata={"help": "beam score length exponent (>1 favours longer)"})
    batch_size: int = field(default=16, metadata={"help": "documents decoded together"})
    format: Literal["jsonl", "parquet"] = field(default="jsonl", metadata={
        "help": "output shard format (summaries.jsonl and summaries.txt are written either way)"})


class SummarizationApp:
    name = "summarization"
    title = "Abstractive summarization: a transformer with copying, pretrained from scratch, against lead-k and sumy."
    items = "pairs"
    stages = ("pretrain", "train")
    metric, mode = "rougeL", "max"
    batch_options = SummarizationOptions
    data_help = ('JSONL document/summary pairs ({"document": ..., "summary": ..., "id": ...} per line): one file '
                 "(split by a seeded hash of the document text: data.split.valid and data.split.test of it, "
                 "identical documents on one side) or a folder with train.jsonl, valid.jsonl and test.jsonl")
    input_help = 'a JSONL of {"document": ..., "id": ...} lines, a .txt file, or a folder of .txt files'
    examples = (
        "pretrain --data pairs.jsonl --run runs/summ-mine/pretrain  # your own pairs: gap sentences first",
        "train --data pairs.jsonl --run runs/summ-mine/train --init runs/summ-mine/pretrain/best",
        "evaluate --data pairs.jsonl --model runs/summ-mine/train/best  # ROUGE next to lead-k, LexRank, ...",
        "predict docs.jsonl --model runs/summ-mine/train/best --out summaries/ --max-length 60 --min-length 10",
        "pretrain --config demo --run runs/summ/pretrain  # the given Debian pairs",
        "train --config demo --run runs/summ/train --init runs/summ/pretrain/best --set train.max_steps=300",
        "train --config demo --run runs/summ/train --resume  # continue a killed run",
        "train --config demo --run runs/summ-ddp --nproc 2  # data-parallel (torchrun)",
        "evaluate --config demo --model runs/summ/train/best --peers lead-1 --peers lexrank",
    )
    configs = ("default", "demo", "tiny")
    recipe_modules = ("apps.summarization.sentences", "apps.summarization.data", "apps.summarization.gap_sentences",
                      "apps.summarization.datasets.debian", "apps.summarization.datasets.abstracts",
                      "apps.summarization.datasets.wikipedia", "apps.summarization.datasets.lee",
                      "apps.summarization.app")

    def load_config(self, name: str = "default", overrides: Sequence[str] = ()) -> SummarizationConfig:
        from apps.summarization.config import load_summarization_config

        return load_summarization_config(name, list(overrides))

    def with_data(self, cfg: SummarizationConfig, source: str) -> SummarizationConfig:
        """``cfg`` reading your JSONL pairs: one file (split by ``data.split``), or a folder with
        ``train.jsonl`` (and ``valid.jsonl``, ``test.jsonl``; a missing one is cut from training)."""
        from shared.paths import config_path

        path = config_path(source, "--data")
        if path.is_dir():
            files = {name.split(".")[0]: path / name for name in SPLIT_FILES if (path / name).is_file()}
            if "train" not in files:
                raise DataError(f"{path}: no train.jsonl (a folder of pairs holds train.jsonl, valid.jsonl, test.jsonl)")
        elif not path.is_file():
            raise DataError(f"file not found: {path}")
        elif path.suffix.lower() != ".jsonl":
            raise DataError(f"{path.name}: expected a .jsonl file of {{\"document\": ..., \"summary\": ...}} lines")
        else:
            files = {"train": path}
        return replace(cfg, data=replace(cfg.data, dataset="pairs", pairs={k: str(v) for k, v in files.items()}))

    def prepared_dir(self, cfg: SummarizationConfig) -> Path:
        """A folder under ``data.cache_dir`` keyed on the dataset and everything it depends on (your
        files' paths, sizes and modification times included)."""
        from apps.summarization.data import prepared_key

        return Path(cfg.data.cache_dir) / prepared_key(cfg)

    def is_prepared(self, cfg: SummarizationConfig, data: Path) -> bool:
        from apps.summarization.data import is_prepared

        return is_prepared(data)

    def prepare(self, cfg: SummarizationConfig, out: Path) -> Path:
        from apps.summarization.data import prepare

        return prepare(cfg, out)

    def validate(self, cfg: SummarizationConfig, data: Path) -> DataReport:
        from apps.summarization.data import validate

        report = validate(cfg, data)
        details = {"source": report["source"], "pretraining passages": report["pretrain_passages"],
                   "held out": report["split_rule"]}
        return DataReport(items=sum(report["pairs"].values()), splits=report["pairs"], details=details)

    def train(self, cfg: SummarizationConfig, data: Path, run_dir: Path, stage: str = "train", *, resume: bool = False,
              init: str | None = None) -> TrainSummary:
        """``pretrain``: gap sentences on the pretraining passages; ``train``: fine-tuning on the training
        pairs. ``init``: start from that model folder's weights (the pretrained model, for ``train``)."""
        from apps.summarization.data import load_passages, load_set
        from apps.summarization.train import finetune, pretrain
        from shared.atomic import atomic_write_text
        from shared.tokenizers import load_tokenizer

        if stage not in self.stages:
            raise ConfigError(f"unknown stage {stage!r}; stages: {', '.join(self.stages)}")
        tokenizer = load_tokenizer(Path(data) / "tokenizer.json")
        if stage == "pretrain":
            result = pretrain(cfg.train.pretrain, cfg.model, tokenizer, load_passages(data, "pretrain"),
                              load_passages(data, "pretrain_valid"), run_dir, init, resume)
            metric = cfg.train.pretrain.monitor
        else:
            pairs = {s: [(p.document, p.summary or "") for p in load_set(data, s)] for s in ("train", "valid")}
            result = finetune(cfg.train, cfg.model, tokenizer, pairs["train"], pairs["valid"], run_dir, init, resume,
                              metadata={"dataset": cfg.data.dataset})
            metric = cfg.train.monitor
        summary = TrainSummary(str(Path(run_dir) / "best"), result.best_metric, metric, result.step, result.seconds)
        record = {**summary.to_dict(), "init": init, "examples_per_second": result.samples_per_second}
        atomic_write_text(Path(run_dir) / f"{stage}_summary.json", json.dumps(record, indent=2) + "\n")
        return summary

    def evaluate(self, cfg: SummarizationConfig, model_dir: str, data: Path, out_dir: Path,
                 peers: Sequence[str] | None = None) -> Evaluation:
        """ROUGE of ours and every peer on the same documents of each test set (one row per set and model)."""
        from apps.summarization.data import split_rule
        from apps.summarization.metrics import evaluate_model

        result = evaluate_model(cfg, model_dir, data, out_dir, None if peers is None else list(peers))
        rule = split_rule(cfg)
        if cfg.evaluate.test_limit:
            rule += f" (the first {cfg.evaluate.test_limit} documents of each test set scored)"
        out = Path(out_dir)
        return Evaluation(table=result["table"], ours=result["ours"], metric=self.metric, mode=self.mode,
                          registry_name=self.registry_name(cfg), best_peer=result["best_peer"], split_rule=rule,
                          artifacts={"metrics_md": str(out / "metrics.md"), "samples": str(out / "samples.md"),
                                     "plot": result["plot"], "metrics_json": str(out / "metrics.json")},
                          markdown=(out / "metrics.md").read_text())

    def predictor(self, model_dir: str, options: SummarizationOptions) -> SummarizationPredictor:
        from apps.summarization.config import DecodeConfig
        from apps.summarization.predict import SummarizationPredictor

        decode = DecodeConfig(num_beams=options.beams, length_penalty=options.length_penalty,
                              no_repeat_ngram_size=options.no_repeat_ngram, min_length=options.min_length,
                              max_length=options.max_length, batch_size=options.batch_size)
        return SummarizationPredictor(model_dir, decode, options.format)

    def registry_name(self, cfg: SummarizationConfig) -> str:
        return f"{self.name}-{cfg.data.dataset}"

    def sample_files(self, folder: Path) -> SampleFiles:
        """300 given Debian pairs written as your JSONL (one file: split by the seeded rule), and four
        other (short) descriptions to summarize plus an empty one (an error row)."""
        from apps.summarization.datasets.debian import debian_rows
        from shared.given_data import shared_data_dir

        folder.mkdir(parents=True, exist_ok=True)
        rows = debian_rows(shared_data_dir(), max_rows=340)
        pairs = [{"id": r["package"], "document": r["document"], "summary": r["summary"]} for r in rows[:300]]
        (folder / "pairs.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs),
                                            encoding="utf-8")
        shortest = sorted(rows[300:], key=lambda r: len(r["document"]))[:4]
        docs = [{"id": r["package"], "document": r["document"]} for r in shortest] + [{"id": "empty", "document": ""}]
        (folder / "incoming.jsonl").write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs),
                                               encoding="utf-8")
        return SampleFiles(str(folder / "pairs.jsonl"), str(folder / "incoming.jsonl"))


APP = SummarizationApp()


def main(argv: list[str] | None = None) -> int:
    """``sextant-summarize``: the same as ``sextant summarization``."""
    from shared.cli import app_main

    return app_main(APP, argv)
