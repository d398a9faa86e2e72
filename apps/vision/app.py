"""The vision App: a dense transformer for segmentation, detection and instance masks, trained
from scratch, against the classic Otsu + watershed peer.

Data: the shipped StarDist nuclei tiles or the generated scenes, or the user's COCO instances
files or image + class-mask folders (:mod:`apps.vision.data`). A prepared folder holds
``dataset.json``: the files of each split, the class names and the split rule.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shared.app import DataReport, Evaluation, SampleFiles, TrainSummary, best_of

if TYPE_CHECKING:
    from apps.vision.config import VisionConfig
    from apps.vision.predict import VisionPredictor


@dataclass
class VisionOptions:
    """``sextant vision predict``'s options, and the batch flow's."""

    task: Literal["both", "segment", "detect"] = field(default="both", metadata={
        "help": "segment (class masks), detect (boxes) or both; narrowed to what the model was trained for"})
    score_threshold: float = field(default=0.3, metadata={"help": "keep detections at least this confident"})
    flips: bool = field(default=True, metadata={
        "help": "average 4 flipped passes per image (--no-flips: one pass, about 4x faster)"})


class VisionApp:
    name = "vision"
    title = "Segmentation, detection and instance masks: a transformer trained from scratch, against Otsu + watershed."
    items = "images"
    stages = ("train",)
    metric, mode = "instance_f1", "max"
    batch_options = VisionOptions
    data_help = ("a COCO instances .json (images next to it), or a folder with train.json, valid.json and "
                 "test.json; or a folder with images/ and masks/ (class-index PNGs, same stems; classes: "
                 "data.classes), or with train/, valid/ and test/ each holding images/ and masks/. Unsplit data "
                 "is split 70/15/15 by image (seeded: data.seed)")
    input_help = "image files, folders of them, or .txt/.jsonl manifests listing them"
    examples = (
        "train --data cells.json --run runs/vision-cells  # your COCO file (split 70/15/15 by image)",
        "evaluate --data cells.json --model runs/vision-cells/best  # ours next to Otsu + watershed",
        "predict images/ --model runs/vision-cells/best --out preds/  # masks/, overlays/, detections.coco.json",
        "train --data roads/ --set model.task=segment data.classes=[background,road] --run runs/roads",
        "predict images/ --task detect --no-flips --model runs/vision-cells/best --out boxes/",
        "train --config demo --run runs/vision-nuclei  # the shipped StarDist nuclei tiles",
        "train --config scenes --run runs/vision-scenes  # generated 4-class scenes",
        "train --config demo --run runs/vision-ddp --nproc 2  # data-parallel (torchrun)",
    )
    configs = ("default", "demo", "scenes", "tiny")
    recipe_modules = ("apps.vision.datasets.nuclei", "apps.vision.datasets.scenes", "apps.vision.coco",
                      "apps.vision.data", "apps.vision.app")

    def load_config(self, name: str = "default", overrides: Sequence[str] = ()) -> VisionConfig:
        from apps.vision.config import load_vision_config

        return load_vision_config(name, list(overrides))

    def with_data(self, cfg: VisionConfig, source: str) -> VisionConfig:
        """``cfg`` reading the user's COCO file(s) or image + mask folders at ``source``."""
        from apps.vision.data import user_source

        dataset, entries, name = user_source(source)
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name).strip(".-") or dataset
        data = replace(cfg.data, dataset=dataset, name=name, coco=entries if dataset == "coco" else {},
                       folders=entries if dataset == "folders" else {})
        return replace(cfg, data=data)

    def prepared_dir(self, cfg: VisionConfig) -> Path:
        from apps.vision.data import prepared_name

        return Path(cfg.data.cache_dir) / prepared_name(cfg)

    def is_prepared(self, cfg: VisionConfig, data: Path) -> bool:
        return (Path(data) / "dataset.json").is_file()

    def prepare(self, cfg: VisionConfig, out: Path) -> Path:
        from apps.vision.data import prepare

        return prepare(cfg, out)

    def validate(self, cfg: VisionConfig, data: Path) -> DataReport:
        """Images per split; refuses empty splits and an image in two splits."""
        from apps.vision.data import validate_data

        report = validate_data(data)
        details = {"objects": json.dumps(report["objects"]), "classes": ", ".join(report["classes"]),
                   "source": report["source"], "split": report["split_rule"]}
        return DataReport(items=sum(report["images"].values()), splits=report["images"], details=details)

    def train(self, cfg: VisionConfig, data: Path, run_dir: Path, stage: str = "train", *, resume: bool = False,
              init: str | None = None) -> TrainSummary:
        from apps.vision.data import load_prepared
        from apps.vision.train import fit

        prepared = load_prepared(data)
        fitted = fit(cfg, prepared.samples["train"], prepared.samples["valid"], prepared.truth["valid"],
                     prepared.labels.semantic, prepared.labels.detection, run_dir, resume=resume, init=init)
        result = fitted.result
        return TrainSummary(str(Path(run_dir) / "best"), result.best_metric, "val_score", result.step,
                            result.total_seconds)

    def evaluate(self, cfg: VisionConfig, model_dir: str, data: Path, out_dir: Path,
                 peers: Sequence[str] | None = None) -> Evaluation:
        """Test metrics of ours next to each peer that applies, a metrics table and an overlay panel."""
        from apps.vision.config import PEERS
        from apps.vision.data import load_prepared
        from apps.vision.images import png_bytes
        from apps.vision.metrics import HEADLINE, headline_metric, markdown_table, score_predictions, selection_score
        from apps.vision.peers import applies, peer_predictions
        from apps.vision.plots import overlay_panel
        from apps.vision.predict import predict_images
        from apps.vision.train import post_process
        from shared.atomic import atomic_write_bytes, atomic_write_text
        from shared.errors import DataError
        from shared.model_folder import load_model

        prepared = load_prepared(data)
        loaded = load_model(model_dir)
        trained = loaded.metadata.get("task", cfg.model.task)
        task = trained if cfg.model.task == "both" else cfg.model.task
        test, truth, labels = prepared.samples["test"], prepared.truth["test"], prepared.labels
        images = [s.image for s in test]

        def timed(fn):
            start = time.perf_counter()
            preds = fn(images)
            return preds, len(images) / max(time.perf_counter() - start, 1e-9)

        ours, speed = timed(lambda x: predict_images(loaded.model, x, post_process(cfg)))
        results = {"ours": {**score_predictions(ours, test, task, truth, labels.semantic), "images_per_second": speed}}
        shown = {"ours": ours}
        chosen = list(cfg.peers if peers is None else peers)
        unknown = sorted(set(chosen) - set(PEERS))
        if unknown:
            raise DataError(f"unknown peer(s) {unknown}; available: {', '.join(PEERS)} (YOLOv8n: benchmarks/vision.py)")
        for name in chosen:
            if not applies(labels.detection, test):
                continue  # Otsu separates one bright class from a dark background only
            preds, speed = timed(lambda x, name=name: peer_predictions(name, x))
            results[name] = {**score_predictions(preds, test, task, truth, labels.semantic), "images_per_second": speed}
            shown[name] = preds
        for scores in results.values():
            scores["score"] = selection_score(scores)
        out = Path(out_dir)
        full = [{"model": name, **{k: v for k, v in scores.items() if not k.startswith("iou_") or name == "ours"}}
                for name, scores in results.items()]
        table = [{"model": row["model"], **{k: row[k] for k in HEADLINE if k in row}} for row in full]
        markdown = markdown_table(table)
        atomic_write_text(out / "metrics.json", json.dumps(full, indent=2) + "\n")
        atomic_write_text(out / "metrics.md", markdown)
        plot = out / "test_overlays.png"
        atomic_write_bytes(plot, png_bytes(overlay_panel(test, shown, labels, cfg.score_threshold)))
        metric = headline_metric(results["ours"], task)
        best_peer = best_of({k: v.get(metric) for k, v in results.items() if k != "ours"}, "max")
        return Evaluation(table=table, ours=results["ours"], metric=metric, mode="max",
                          registry_name=self.registry_name(cfg), best_peer=best_peer,
                          split_rule=prepared.spec.get("split_rule", ""),
                          artifacts={"metrics_md": str(out / "metrics.md"), "metrics_json": str(out / "metrics.json"),
                                     "plot": str(plot)}, markdown=markdown)

    def predictor(self, model_dir: str, options: VisionOptions) -> VisionPredictor:
        from apps.vision.predict import VisionPredictor

        return VisionPredictor(model_dir, options.task, options.score_threshold, options.flips)

    def registry_name(self, cfg: VisionConfig) -> str:
        """``vision-<dataset>`` for the shipped sets, ``vision-<file stem or folder name>`` for the user's."""
        return f"{self.name}-{cfg.data.name or cfg.data.dataset}"

    def sample_files(self, folder: Path) -> SampleFiles:
        """The StarDist nuclei tiles as a user's one COCO file (``cells.json`` + ``images/``); to
        predict, a folder of three tiles and one truncated PNG (an error row)."""
        import shutil

        from apps.vision.datasets.nuclei import write_nuclei_instances

        folder = Path(folder)
        coco = write_nuclei_instances(folder / "cells.json")
        incoming = folder / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        tiles = sorted((folder / "images").glob("*.png"))
        for tile in tiles[:3]:
            shutil.copy(tile, incoming / tile.name)
        (incoming / "truncated.png").write_bytes(tiles[0].read_bytes()[:200])
        return SampleFiles(str(coco), str(incoming), ())


APP = VisionApp()


def main(argv: list[str] | None = None) -> int:
    """``sextant-vision``: the same as ``sextant vision``."""
    from shared.cli import app_main

    return app_main(APP, argv)
