"""The YOLOv8n peer: ultralytics, built from ``yolov8n.yaml`` (no pretrained weights), trained offline.

ultralytics is AGPL-3.0, so it lives here, in the optional ``bench`` extra,
and nothing under ``apps/`` imports it. The peer sees exactly our splits:
COCO files are converted to YOLO's layout (one text file of normalised
``class cx cy w h`` boxes per image), it trains on ``train``, ultralytics
selects its best epoch on ``valid`` (as we select our checkpoint on valid),
and its test-set detections are scored by the same pycocotools evaluator
as ours, with the same low confidence threshold (0.001, the usual mAP setting).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from apps.vision.coco import CocoDataset
from apps.vision.images import read_rgb
from apps.vision.metrics import coco_map


def write_yolo_split(dataset: CocoDataset, out: Path, split: str) -> None:
    """Images (as PNG copies) under ``out/images/<split>`` and labels under ``out/labels/<split>``."""
    cats = {int(c["id"]): i for i, c in enumerate(sorted(dataset.categories, key=lambda c: c["id"]))}
    (out / "images" / split).mkdir(parents=True, exist_ok=True)
    (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    for image in dataset.images:
        stem = f"{image.id:06d}"
        shutil.copyfile(dataset.image_path(image), out / "images" / split / f"{stem}{Path(image.file_name).suffix}")
        lines = []
        for ann in dataset.annotations_for(image.id):
            if ann.iscrowd:  # ours does not train on crowd regions either
                continue
            x, y, w, h = ann.bbox
            lines.append(f"{cats[ann.category_id]} {(x + w / 2) / image.width:.6f} {(y + h / 2) / image.height:.6f} "
                         f"{w / image.width:.6f} {h / image.height:.6f}")
        (out / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))


def yolo_peer(splits: dict[str, CocoDataset], work_dir: str | Path, epochs: int = 80, imgsz: int = 128,
              batch: int = 16, seed: int = 0, time_hours: float | None = None) -> dict:
    """Train YOLOv8n from scratch on the train split; test-set box mAP, mAP50, training seconds and images/s.

    ``time_hours`` trains for that wall-clock budget instead of ``epochs`` (ultralytics fits its
    epoch count and learning-rate schedule to the budget), to match our training time. Early
    stopping is off (``patience=0``), as it is for ours: the whole budget is used and the best
    epoch on the valid split is kept.

    The optimizer is the one ultralytics' ``optimizer=auto`` rule picks for runs under 10,000
    iterations, which every budget here is (nuclei about 2,700, scenes about 1,000): AdamW with
    ``lr0 = 0.002 * 5 / (4 + classes)``. It is set explicitly because time mode needs a placeholder
    epoch count, from which ``auto`` infers a long run and picks MuSGD, whose Newton-Schulz steps
    run in bfloat16: about 30x slower than fp32 on a CPU without AVX512-BF16."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import torch
    from ultralytics import YOLO
    from ultralytics.utils import torch_utils

    # ultralytics trains on cores - 1 threads (1 of our 2) and leaves the process there;
    # give it the same threads as ours, and put them back afterwards.
    threads = torch.get_num_threads()
    torch_utils.NUM_THREADS = threads

    work = Path(work_dir).resolve()
    shutil.rmtree(work, ignore_errors=True)
    data_root = work / "data"
    for split, dataset in splits.items():
        write_yolo_split(dataset, data_root, split)
    names = [c["name"] for c in sorted(splits["train"].categories, key=lambda c: c["id"])]
    (work / "data.yaml").write_text(f"path: {data_root}\ntrain: images/train\nval: images/valid\ntest: images/test\n"
                                    f"names: {dict(enumerate(names))}\n")
    model = YOLO("yolov8n.yaml")
    lr0 = round(0.002 * 5 / (4 + len(names)), 6)  # ultralytics' own fit under optimizer=auto (build_optimizer)
    start = time.perf_counter()
    model.train(data=str(work / "data.yaml"), epochs=epochs, imgsz=imgsz, batch=batch, device="cpu", workers=0,
                pretrained=False, amp=False, plots=False, optimizer="AdamW", lr0=lr0, momentum=0.9, patience=0,
                seed=seed, deterministic=True, project=str(work),
                name="train", exist_ok=True, verbose=False, **({"time": time_hours} if time_hours else {}))
    train_seconds = time.perf_counter() - start
    best = YOLO(str(work / "train" / "weights" / "best.pt"))
    test = splits["test"]
    category_ids = [int(c["id"]) for c in sorted(test.categories, key=lambda c: c["id"])]
    images = [read_rgb(test.image_path(image))[..., ::-1] for image in test.images]  # ultralytics wants BGR arrays
    best.predict(images[:1], imgsz=imgsz, device="cpu", verbose=False)  # warm-up
    start = time.perf_counter()
    results = best.predict(images, imgsz=imgsz, conf=0.001, iou=0.6, device="cpu", verbose=False, max_det=300)
    infer_seconds = time.perf_counter() - start
    records = []
    for image, result in zip(test.images, results, strict=True):
        boxes = result.boxes
        for (x0, y0, x1, y1), score, cls in zip(boxes.xyxy.numpy(), boxes.conf.numpy(), boxes.cls.numpy().astype(np.int64), strict=True):
            records.append({"image_id": image.id, "category_id": category_ids[cls], "score": float(score),
                            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]})
    scores = {f"box_{k}": v for k, v in coco_map(test, records).items()}
    torch.set_num_threads(threads)
    return {**scores, "train_seconds": train_seconds, "images_per_second": len(images) / infer_seconds,
            "epochs": _epochs_run(work / "train")}


def _epochs_run(run_dir: Path) -> int:
    """How many epochs ultralytics trained (its results.csv has one row per epoch)."""
    csv = run_dir / "results.csv"
    return max(len(csv.read_text().splitlines()) - 1, 0) if csv.is_file() else 0
