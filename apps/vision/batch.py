"""Batch prediction over a folder (or manifest) of images on the shared batch-inference contract.

Each image is one row (``row_id`` = its path relative to the input folder).
An unreadable, truncated or oddly shaped file becomes an error row; the rest
are predicted. Per image the job writes, under the output folder:

- ``masks/<path>.png``: the class id of every pixel (``segment`` or ``both``);
- ``instances/<path>.png``: 16-bit instance labels, for single-class instance models;
- ``overlays/<path>.png``: masks and boxes drawn on the input;

and one record (size, file names, instance count and the detections as JSON,
each with ``box_xyxy`` corner coordinates in pixels).
At the end ``detections.coco.json`` gathers every confident detection as a
COCO file (images, categories, scored box annotations). Reruns skip finished
shards, so a killed job resumes without losing or duplicating anything.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import numpy as np

from apps.vision.data import LabelSpace
from apps.vision.folders import IMAGE_SUFFIXES
from apps.vision.images import png_bytes, read_rgb
from apps.vision.overlay import colour_labels, draw_boxes
from apps.vision.train import predict_images
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.inference import InferenceSummary, InputRow, RowError, file_rows, read_outputs, run_batch_inference
from shared.model_folder import LoadedModel


def read_rows(path: str | Path) -> list[InputRow]:
    """One row per image file under ``path`` (a file, a folder, or a .txt/.jsonl manifest); the files
    are listed up front, so a wrong path fails before any work starts, and read when predicted."""
    return file_rows(path, IMAGE_SUFFIXES)


def output_name(row_id: str) -> Path:
    """Where a row's PNGs go, relative to masks/ and overlays/: the row id with no root, no ``..``
    and ``.png`` added unless it ends so (``a.jpg`` -> ``a.jpg.png``, so it never meets ``a.png``)."""
    parts = [("_" if part == ".." else part) for part in PurePosixPath(row_id).parts if part not in ("/", ".")]
    name = Path(*parts) if parts else Path("_")
    return name if name.suffix.lower() == ".png" else name.with_name(name.name + ".png")


def label_space(loaded: LoadedModel) -> LabelSpace:
    names = list(loaded.model.cfg.class_names)
    return LabelSpace(names, list(loaded.metadata.get("detection_classes") or names[1:]))


def make_predict_fn(loaded: LoadedModel, output_dir: Path, task: str, score_threshold: float, flips: bool):
    model, labels = loaded.model, label_space(loaded)
    instance_model = len(labels.detection) == 1 and task == "both"

    def predict(rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError | None] = [None] * len(rows)
        images, where = [], []
        for i, row in enumerate(rows):
            try:
                images.append(read_rgb(row.payload))
                where.append(i)
            except DataError as err:
                results[i] = RowError(str(err))
        for i, image, pred in zip(where, images, predict_images(model, images, flips, score_threshold), strict=True):
            stem = output_name(rows[i].row_id)
            record: dict = {"file": str(rows[i].payload), "width": image.shape[1], "height": image.shape[0]}
            keep = (pred.detections.scores >= score_threshold) & (task != "segment")
            found = [{"box_xyxy": [round(float(v), 2) for v in box], "score": round(float(score), 4),
                      "category": labels.detection[int(k)]}
                     for box, score, k in zip(pred.detections.boxes[keep], pred.detections.scores[keep],
                                              pred.detections.labels[keep], strict=True)]
            record["detections"] = json.dumps(found)
            if task != "detect":
                atomic_write_bytes(output_dir / "masks" / stem, png_bytes(pred.semantic))
                record["mask"] = f"masks/{stem.as_posix()}"
            if instance_model:
                atomic_write_bytes(output_dir / "instances" / stem, png_bytes(pred.instances.astype(np.uint16)))
                record["instance_mask"] = f"instances/{stem.as_posix()}"
                record["instances"] = int(pred.instances.max())
            shown = pred.instances if instance_model else (pred.semantic if task != "detect" else np.zeros_like(pred.semantic))
            boxes = pred.detections.boxes[keep] if task != "segment" else np.zeros((0, 4))
            overlay = draw_boxes(colour_labels(image, shown), boxes,
                                 [d["category"] for d in found] if len(labels.detection) > 1 else None,
                                 pred.detections.labels[keep] + 1 if task != "segment" else None,
                                 scale=2 if max(image.shape[:2]) <= 256 else 1)
            atomic_write_bytes(output_dir / "overlays" / stem, png_bytes(overlay))
            record["overlay"] = f"overlays/{stem.as_posix()}"
            results[i] = [record]
        return results  # type: ignore[return-value]

    return predict


def write_coco_detections(output_dir: Path, labels: LabelSpace) -> Path:
    """``detections.coco.json`` from the records of every finished shard."""
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(labels.detection)]
    ids = {name: i + 1 for i, name in enumerate(labels.detection)}
    images, annotations = [], []
    for image_id, record in enumerate(read_outputs(output_dir), start=1):
        images.append({"id": image_id, "file_name": record["row_id"], "width": record["width"], "height": record["height"]})
        for found in json.loads(record.get("detections") or "[]"):
            x0, y0, x1, y1 = found["box_xyxy"]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": ids[found["category"]],
                                "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
                                "area": round((x1 - x0) * (y1 - y0), 2), "score": found["score"], "iscrowd": 0})
    path = output_dir / "detections.coco.json"
    atomic_write_text(path, json.dumps({"images": images, "annotations": annotations, "categories": categories}) + "\n")
    return path


def predict_folder(loaded: LoadedModel, input_path: str | Path, output_dir: str | Path, task: str = "both",
                   score_threshold: float = 0.3, flips: bool = True, progress: bool = True,
                   shard_size: int = 64) -> InferenceSummary:
    """Predict every image under ``input_path`` into ``output_dir`` (resumable). ``task`` narrows to
    what the model was trained for (a segmentation-only model never reports boxes)."""
    trained = loaded.metadata.get("task", "both")
    task = trained if trained != "both" else task
    out = Path(output_dir)
    summary = run_batch_inference(read_rows(input_path), make_predict_fn(loaded, out, task, score_threshold, flips),
                                  out, shard_size=shard_size, batch_size=8, fmt="jsonl", progress=progress)
    write_coco_detections(out, label_space(loaded))
    return summary
