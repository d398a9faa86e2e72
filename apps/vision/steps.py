"""The vision app's pipeline steps, shared by the CLI and the Prefect flow.

A prepared dataset is a folder with ``dataset.json``: its kind (``coco`` or
``folders``), the files of each split, and the class names. The shipped
datasets (StarDist nuclei tiles, generated scenes) are written there as COCO;
a user's own COCO files or image + mask folders are referenced where they are.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from apps.vision.batch import predict_folder
from apps.vision.coco import CocoDataset, load_coco
from apps.vision.data import LabelSpace, Sample, coco_label_space, samples_from_coco, samples_from_folders
from apps.vision.decode import Prediction
from apps.vision.images import png_bytes
from apps.vision.nuclei import build_nuclei_coco
from apps.vision.overlay import colour_labels, draw_boxes, panel, stack_rows, upscale
from apps.vision.peers_classic import otsu_predictions
from apps.vision.scenes import write_scenes
from apps.vision.train import (VisionConfig, fit, load_vision_config, predict_images, score_predictions,
                               selection_score)
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.model_folder import load_model
from shared.paths import config_path
from shared.reporting import markdown_table as format_table

SPLITS = ("train", "valid", "test")
PEERS = ("otsu_watershed",)


def config(name: str = "default", overrides: list[str] | None = None) -> VisionConfig:
    return load_vision_config(name, overrides)


def dataset_key(cfg: VisionConfig) -> str:
    """The prepared folder's name: what the data depends on."""
    if cfg.dataset == "nuclei":
        return f"nuclei-t{cfg.tile}-s{cfg.seed}"
    if cfg.dataset == "scenes":
        s = cfg.scenes
        return f"scenes-{s.images}-{cfg.scenes_valid}-{cfg.scenes_test}-{s.size}-s{s.seed}"
    if cfg.dataset in ("coco", "folders"):
        resolved = {"coco": {k: str(config_path(v, f"coco.{k}")) for k, v in cfg.coco.items()},
                    "folders": {k: [str(config_path(p, f"folders.{k}")) for p in v] for k, v in cfg.folders.items()}}
        spec = json.dumps({**resolved, "classes": cfg.classes}, sort_keys=True)
        return f"{cfg.dataset}-{hashlib.sha256(spec.encode()).hexdigest()[:10]}"
    raise DataError(f"unknown dataset {cfg.dataset!r}; use nuclei, scenes, coco or folders")


def prepared_dir(cfg: VisionConfig, data_root: str | Path | None = None) -> Path:
    """Where the dataset ``cfg`` names is (or will be) prepared."""
    return Path(data_root or cfg.cache_dir) / dataset_key(cfg)


def prepare_data(cfg: VisionConfig, data_root: str | Path | None = None) -> str:
    """Build (or reference) the dataset's splits; returns the prepared folder."""
    out = prepared_dir(cfg, data_root)
    if cfg.dataset == "nuclei":
        files = {s: str(p) for s, p in build_nuclei_coco(out, tile=cfg.tile, seed=cfg.seed).items()}
        spec = {"kind": "coco", "splits": files, "source": "stardist img2d/mask2d (BSD-3-Clause), tiled"}
    elif cfg.dataset == "scenes":
        counts = {"train": cfg.scenes.images, "valid": cfg.scenes_valid, "test": cfg.scenes_test}
        files = {s: str(write_scenes(out, replace(cfg.scenes, images=n), s)) for s, n in counts.items()}
        spec = {"kind": "coco", "splits": files, "source": "generated scenes (apps/vision/scenes.py)"}
    elif cfg.dataset == "coco":
        missing = [s for s in SPLITS if s not in cfg.coco]
        if missing:
            raise DataError(f"coco needs instances files for {', '.join(missing)} (set coco.<split>=path)")
        spec = {"kind": "coco", "splits": {s: str(config_path(cfg.coco[s], f"coco.{s}")) for s in SPLITS},
                "source": "user COCO"}
    else:
        missing = [s for s in SPLITS if len(cfg.folders.get(s, [])) != 2]
        if missing or len(cfg.classes) < 2:
            raise DataError("folders needs folders.<split>=[images_dir, masks_dir] for train, valid and test, "
                            "and classes=[background, ...]")
        spec = {"kind": "folders", "splits": {s: [str(config_path(p, f"folders.{s}")) for p in cfg.folders[s]] for s in SPLITS},
                "classes": cfg.classes, "source": "user image + mask folders"}
    atomic_write_text(out / "dataset.json", json.dumps({"dataset": cfg.dataset, **spec}, indent=2) + "\n")
    return str(out)


def ensure_prepared(cfg: VisionConfig, data_root: str | Path | None = None) -> str:
    """The prepared folder, built only when it does not exist yet (``prepare`` always rebuilds)."""
    out = prepared_dir(cfg, data_root)
    return str(out) if (out / "dataset.json").is_file() else prepare_data(cfg, data_root)


@dataclass
class PreparedData:
    samples: dict[str, list[Sample]]
    truth: dict[str, CocoDataset | None]  # COCO ground truth per split (None for mask folders)
    labels: LabelSpace


def load_prepared(data_dir: str | Path) -> PreparedData:
    spec_path = Path(data_dir) / "dataset.json"
    if not spec_path.is_file():
        raise DataError(f"no prepared dataset in {data_dir}: run prepare first")
    spec = json.loads(spec_path.read_text())
    if spec["kind"] == "coco":
        truth = {s: load_coco(spec["splits"][s]) for s in SPLITS}
        labels, index = coco_label_space(truth["train"])
        for split in ("valid", "test"):
            if coco_label_space(truth[split]) != (labels, index):
                raise DataError(f"{split} has other categories (ids or names) than train")
        return PreparedData({s: samples_from_coco(truth[s], index) for s in SPLITS}, truth, labels)
    classes = spec["classes"]
    samples = {s: samples_from_folders(*spec["splits"][s], num_classes=len(classes)) for s in SPLITS}
    return PreparedData(samples, dict.fromkeys(SPLITS), LabelSpace(classes, classes[1:]))


def validate_data(cfg: VisionConfig, data_dir: str | Path) -> dict:
    """Counts per split; refuses empty splits and an image that appears in two splits."""
    data = load_prepared(data_dir)
    digests: dict[str, str] = {}
    for split in SPLITS:
        if not data.samples[split]:
            raise DataError(f"the {split} split has no images")
        for sample in data.samples[split]:
            digest = hashlib.sha256(sample.image.tobytes()).hexdigest()
            if digests.setdefault(digest, split) != split:
                raise DataError(f"{sample.name} ({split}) is also in {digests[digest]}: splits overlap")
    return {"series": sum(len(v) for v in data.samples.values()),
            "images": {s: len(v) for s, v in data.samples.items()},
            "objects": {s: int(sum(len(x.boxes) for x in v)) for s, v in data.samples.items()},
            "classes": data.labels.semantic}


def train_model(cfg: VisionConfig, data_dir: str | Path, run_dir: str | Path, resume: bool = False) -> dict:
    data = load_prepared(data_dir)
    fitted = fit(cfg, data.samples["train"], data.samples["valid"], data.truth["valid"], data.labels.semantic,
                 data.labels.detection, run_dir, resume=resume)
    return {"model_dir": str(Path(run_dir) / "best"), "val_metric": fitted.result.best_metric,
            "steps": fitted.result.step, "train_seconds": fitted.result.seconds}


def _timed_predictions(fn, images: list[np.ndarray]) -> tuple[list[Prediction], float]:
    start = time.perf_counter()
    preds = fn(images)
    return preds, len(images) / max(time.perf_counter() - start, 1e-9)


def evaluate_model(cfg: VisionConfig, model_dir: str | Path, data_dir: str | Path, out_dir: str | Path,
                   peers: list[str] | None = None) -> dict:
    """Test metrics of ours next to each peer that applies, a metrics table and an overlay panel."""
    data = load_prepared(data_dir)
    loaded = load_model(model_dir)
    model, task = loaded.model, loaded.metadata.get("task", cfg.task)
    task = task if cfg.task == "both" else cfg.task
    test, truth = data.samples["test"], data.truth["test"]
    images = [s.image for s in test]
    ours, ours_speed = _timed_predictions(lambda x: predict_images(model, x, cfg.flips, cfg.score_threshold), images)
    results = {"ours": {**score_predictions(ours, test, task, truth, data.labels.semantic), "images_per_second": ours_speed}}
    shown = {"ours": ours}
    single_class_instances = len(data.labels.detection) == 1 and all(s.masks is not None for s in test)
    for name in cfg.peers if peers is None else peers:
        if name not in PEERS:
            raise DataError(f"unknown peer {name!r}; available: {', '.join(PEERS)} (YOLOv8n: benchmarks/vision.py)")
        if not single_class_instances:
            continue  # Otsu separates one bright class from a dark background only
        preds, speed = _timed_predictions(otsu_predictions, images)
        results[name] = {**score_predictions(preds, test, task, truth, data.labels.semantic), "images_per_second": speed}
        shown[name] = preds
    for scores in results.values():
        scores["score"] = selection_score(scores)
    out = Path(out_dir)
    table = [{"model": name, **{k: v for k, v in scores.items() if not k.startswith("iou_") or name == "ours"}}
             for name, scores in results.items()]
    atomic_write_text(out / "metrics.json", json.dumps(table, indent=2) + "\n")
    atomic_write_text(out / "metrics.md", markdown_table(table))
    plot = out / "test_overlays.png"
    atomic_write_bytes(plot, png_bytes(overlay_panel(test, shown, data.labels, cfg.score_threshold)))
    metric = "instance_f1" if "instance_f1" in results["ours"] else ("box_map50" if task == "detect" else "miou")
    peer_names = [k for k in results if k != "ours"]
    best_peer = max(peer_names, key=lambda k: results[k].get(metric, 0.0)) if peer_names else None
    return {"table": table, "ours": results["ours"], "best_peer": best_peer,
            "best_peer_scores": results.get(best_peer) if best_peer else None, "plot": str(plot),
            "registry_name": f"vision-{cfg.dataset}", "metric": metric, "mode": "max"}


HEADLINE = ("instance_f1", "fg_iou", "box_map50", "box_map", "mask_map50", "miou", "images_per_second")
COUNTS = ("steps", "epochs")  # shown as whole numbers


def markdown_table(table: list[dict], columns: tuple[str, ...] = HEADLINE) -> str:
    """The app's metrics table (see :func:`shared.reporting.markdown_table`)."""
    return format_table(table, columns, COUNTS)


def prediction_overlay(image: np.ndarray, pred: Prediction, labels: LabelSpace, score_threshold: float,
                       scale: int = 2) -> np.ndarray:
    """Instances (or classes) coloured on the image and the confident boxes drawn on top."""
    instance_data = pred.instances.any() and len(labels.detection) == 1
    coloured = colour_labels(image, pred.instances if instance_data else pred.semantic)
    keep = pred.detections.scores >= score_threshold
    names = [f"{labels.detection[k] if len(labels.detection) > 1 else ''} {s:.2f}".strip()
             for k, s in zip(pred.detections.labels[keep], pred.detections.scores[keep], strict=True)]
    return draw_boxes(coloured, pred.detections.boxes[keep], names if len(labels.detection) > 1 else None,
                      pred.detections.labels[keep] + 1, scale)


def overlay_panel(samples: list[Sample], shown: dict[str, list[Prediction]], labels: LabelSpace,
                  score_threshold: float, max_images: int = 4) -> np.ndarray:
    """One row per test image: input, ground truth, then each model's prediction."""
    rows = []
    for i, sample in enumerate(samples[:max_images]):
        if sample.masks is not None and len(labels.detection) == 1:
            truth_labels = np.zeros(sample.image.shape[:2], np.int32)
            for k, mask in enumerate(sample.masks, start=1):
                truth_labels[mask] = k
        else:
            truth_labels = sample.semantic if sample.semantic is not None else np.zeros(sample.image.shape[:2], np.int32)
        truth = draw_boxes(colour_labels(sample.image, truth_labels), sample.boxes, None, sample.labels + 1, 2)
        tiles = [upscale(sample.image, 2), truth] + [prediction_overlay(sample.image, preds[i], labels, score_threshold)
                                                     for preds in shown.values()]
        rows.append(panel(tiles, [sample.name, "ground truth", *shown]))
    return stack_rows(rows)


def predict_path(model_dir: str | Path, input_path: str | Path, output_dir: str | Path, task: str = "both",
                 score_threshold: float = 0.3, flips: bool = True, progress: bool = True) -> dict:
    summary = predict_folder(load_model(model_dir), input_path, output_dir, task, score_threshold, flips, progress)
    return {**summary.to_dict(), "line": summary.line()}
