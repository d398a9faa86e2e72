"""Prediction: from images to class maps, boxes and instance masks, and the batch job of
``sextant vision predict``.

- :func:`dense_predict` runs the model on images of any size (padded to a
  multiple of 8, cropped back) and, with ``flips``, averages the outputs over
  horizontal and vertical flips. Averaging over the flip group makes the
  prediction exactly flip-equivariant: the boxes of a flipped image are the
  flipped boxes of the image (up to float rounding), whatever the weights.
- :func:`detections`: heatmap peaks (3x3 max-pooling), their boxes, then
  class-wise non-maximum suppression with ``torchvision.ops.batched_nms``.
  An IoU-aware model scores each peak ``heat ** (1 - p) * iou ** p``.
- :func:`instance_labels`: a marker watershed (scikit-image) over the
  predicted foreground, seeded at the detected box centres, so touching
  objects split along the heatmap's valleys. Foreground blobs no detection
  seeded become instances of their own. With ``mask_boxes`` a seeded
  instance's tight mask box replaces its detection's box where the two agree
  (IoU at least ``MASK_BOX_IOU``): the mask is drawn at full resolution, the
  box regressed at 1/4.
- :func:`predict_images`: all three for a list of images (what evaluation and the batch job use).

The batch job (:class:`VisionPredictor`) reads every image under a folder (or manifest); each
image is one row (``row_id`` = its path relative to the input folder). An unreadable, truncated
or oddly shaped file becomes an error row; the rest are predicted. Each record holds the image's
size, its detections (JSON, ``box_xyxy`` corners in pixels), and its masks as COCO RLE (JSON):
``segments`` (one RLE per class present, ``segment`` or ``both``) and ``instance_masks`` (one
per instance with its score, single-class instance models). At the end :meth:`VisionPredictor.finish`
writes, from the records of every finished shard, under the output folder:

- ``masks/<path>.png``: the class id of every pixel;
- ``instances/<path>.png``: 16-bit instance labels, for single-class instance models;
- ``overlays/<path>.png``: masks and boxes drawn on the input;
- ``detections.coco.json``: every confident detection as a COCO file (images, categories,
  scored box annotations).

Reruns skip finished shards, so a killed job resumes without losing or duplicating anything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
import torch.nn.functional as F
from pycocotools import mask as mask_utils
from torch import Tensor
from torchvision.ops import batched_nms, box_iou

from apps.vision.data import LabelSpace
from apps.vision.folders import IMAGE_SUFFIXES
from apps.vision.images import png_bytes, read_rgb
from apps.vision.losses import decode_boxes
from apps.vision.model import DET_STRIDE, STRIDE, DenseOutputs, DenseVisionTransformer, normalise
from apps.vision.plots import colour_labels, draw_boxes
from shared.atomic import atomic_write_bytes, atomic_write_text
from shared.errors import DataError
from shared.inference import InferenceSummary, InputRow, RowError, file_rows, read_outputs
from shared.model_folder import LoadedModel, load_model

TASKS = ("both", "segment", "detect")
MASK_BOX_IOU = 0.5  # a detection box and its instance's mask box agree at this IoU or more


@dataclass
class Detections:
    boxes: np.ndarray  # float32 [N, 4], xyxy pixels
    scores: np.ndarray  # float32 [N]
    labels: np.ndarray  # int64 [N], 0-based detection class


@dataclass
class Prediction:
    """What the model says about one image."""

    semantic: np.ndarray  # uint8 [H, W] class ids
    detections: Detections  # every peak above the mAP threshold (0.05)
    instances: np.ndarray  # int32 [H, W] labels (0 = background)
    instance_scores: np.ndarray  # float32 [num instances]


def _flip(out: DenseOutputs, horizontal: bool) -> DenseOutputs:
    """The outputs of a flipped image mapped back onto the original (box edges swap sides)."""
    dim, swap = (-1, [2, 1, 0, 3]) if horizontal else (-2, [0, 3, 2, 1])
    return DenseOutputs(seg=out.seg.flip(dim), heat=out.heat.flip(dim), box=out.box.flip(dim)[:, swap],
                        iou=None if out.iou is None else out.iou.flip(dim))


def _padded(images: Tensor, stride: int = STRIDE) -> tuple[Tensor, int, int]:
    """``uint8 [B, H, W, 3]`` padded with black at the bottom and right to multiples of ``stride`` (as
    training crops are padded), with the original height and width."""
    h, w = images.shape[1:3]
    ph, pw = -h % stride, -w % stride
    return (F.pad(images, (0, 0, 0, pw, 0, ph)) if ph or pw else images), h, w


@torch.no_grad()
def dense_predict(model: DenseVisionTransformer, images: Tensor, flips: bool = True) -> DenseOutputs:
    """Probabilities, not logits: ``seg`` softmax ``[B, C, H, W]``, ``heat`` and ``iou`` sigmoid, ``box`` distances.

    ``images`` is ``uint8 [B, H, W, 3]``. With ``flips`` the model also sees the image flipped
    left-right, up-down and both, and the four outputs are averaged (exactly flip-equivariant for
    sides that are multiples of 8; otherwise the padding sits on one side only).
    """
    model.eval()
    padded, h, w = _padded(images, getattr(model, "stride", STRIDE))
    x = normalise(padded)
    variants = [(False, False), (True, False), (False, True), (True, True)] if flips else [(False, False)]
    total: DenseOutputs | None = None
    for hflip, vflip in variants:
        inp = x.flip(-1) if hflip else x
        inp = inp.flip(-2) if vflip else inp
        raw = model(inp)
        out = DenseOutputs(seg=raw.seg.softmax(1), heat=raw.heat.sigmoid(), box=raw.box,
                           iou=None if raw.iou is None else raw.iou.sigmoid())
        if vflip:
            out = _flip(out, horizontal=False)
        if hflip:
            out = _flip(out, horizontal=True)
        total = out if total is None else DenseOutputs(
            seg=total.seg + out.seg, heat=total.heat + out.heat, box=total.box + out.box,
            iou=None if out.iou is None else total.iou + out.iou)
    n = len(variants)
    hd, wd = -(-h // DET_STRIDE), -(-w // DET_STRIDE)
    return DenseOutputs(seg=(total.seg / n)[..., :h, :w], heat=(total.heat / n)[..., :hd, :wd],
                        box=(total.box / n)[..., :hd, :wd],
                        iou=None if total.iou is None else (total.iou / n)[..., :hd, :wd])


def detections(heat: Tensor, box: Tensor, height: int, width: int, score_threshold: float = 0.05,
               max_detections: int = 300, nms_iou: float = 0.5, iou: Tensor | None = None,
               iou_power: float = 0.5) -> Detections:
    """Boxes of one image from its heatmap ``[K, h, w]`` (probabilities) and distances ``[4, h, w]``;
    with ``iou`` ``[1, h, w]`` (probabilities) each peak scores ``heat ** (1 - p) * iou ** p``."""
    is_peak = (F.max_pool2d(heat[None], 3, 1, 1)[0] == heat) & (heat > 0)
    peaks = heat * is_peak
    if iou is not None:  # (a non-peak stays 0 whatever p is: 0 ** 0 would be 1)
        peaks = heat ** (1 - iou_power) * iou ** iou_power * is_peak
    scores, flat = peaks.flatten().topk(min(max_detections * 4, peaks.numel()))
    keep = (scores >= score_threshold) & (scores > 0)  # zeros are cells that are not peaks
    scores, flat = scores[keep], flat[keep]
    cells = heat.shape[-2] * heat.shape[-1]
    labels, cell = flat // cells, flat % cells
    boxes = decode_boxes(box[None])[0].flatten(1)[:, cell].T
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
    kept = batched_nms(boxes, scores, labels, nms_iou)[:max_detections]
    return Detections(boxes[kept].numpy().astype(np.float32), scores[kept].numpy().astype(np.float32),
                      labels[kept].numpy().astype(np.int64))


def instance_labels(foreground: np.ndarray, heat: np.ndarray, found: Detections,
                    min_area: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ``int32 [H, W]`` label image (0 = background, 1.. = instances), each instance's score and
    the index in ``found`` of the detection that seeded it (-1 for an unseeded blob).

    ``foreground`` is a bool mask, ``heat`` the class-summed heatmap ``[h, w]`` (probabilities).
    A seeded instance scores its detection's score; an unseeded blob the highest heat inside it.
    """
    from scipy import ndimage
    from skimage.segmentation import watershed

    height, width = foreground.shape
    markers = np.zeros((height, width), dtype=np.int32)
    for i, (x0, y0, x1, y1) in enumerate(found.boxes, start=1):
        cy, cx = int(min(max((y0 + y1) / 2, 0), height - 1)), int(min(max((x0 + x1) / 2, 0), width - 1))
        if foreground[cy, cx] and markers[cy, cx] == 0:
            markers[cy, cx] = i
    # each heat cell covers DET_STRIDE pixels; the grid may overhang the image by up to 3 pixels
    upsampled_heat = np.asarray(F.interpolate(torch.from_numpy(heat)[None, None].float(), scale_factor=DET_STRIDE,
                                              mode="bilinear", align_corners=False)[0, 0, :height, :width])
    seeded = watershed(-upsampled_heat, markers, mask=foreground) if markers.any() else np.zeros_like(markers)
    sizes = np.bincount(seeded.ravel(), minlength=len(found.boxes) + 1)
    kept = np.flatnonzero(sizes[1:] >= min_area) + 1  # marker ids, in detection order
    orphans, count = ndimage.label(foreground & (seeded == 0))
    orphan_ids = np.flatnonzero(np.bincount(orphans.ravel(), minlength=count + 1)[1:] >= min_area) + 1
    relabel = np.zeros(len(sizes), np.int32)
    relabel[kept] = np.arange(1, len(kept) + 1)
    labels = relabel[seeded]
    orphan_relabel = np.zeros(count + 1, np.int32)
    orphan_relabel[orphan_ids] = np.arange(len(kept) + 1, len(kept) + len(orphan_ids) + 1)
    labels = np.where(orphans > 0, orphan_relabel[orphans], labels).astype(np.int32)
    orphan_scores = ndimage.maximum(upsampled_heat, orphans, orphan_ids) if len(orphan_ids) else []
    scores = np.concatenate([found.scores[kept - 1], np.asarray(orphan_scores, np.float32)]).astype(np.float32)
    seeds = np.concatenate([kept - 1, np.full(len(orphan_ids), -1)]).astype(np.int64)
    return labels, scores, seeds


def boxes_from_masks(found: Detections, labels: np.ndarray, seeds: np.ndarray,
                     min_iou: float = MASK_BOX_IOU) -> Detections:
    """``found`` with each seeded instance's tight mask box in place of its detection's box, where the
    two boxes overlap by ``min_iou`` or more (elsewhere the regressed box stays)."""
    from scipy import ndimage

    boxes = found.boxes.copy()
    for instance, where in enumerate(ndimage.find_objects(labels, max_label=len(seeds))):
        det = seeds[instance]
        if det < 0 or where is None:
            continue
        ys, xs = where
        mask_box = np.array([xs.start, ys.start, xs.stop, ys.stop], np.float32)
        if box_iou(torch.from_numpy(mask_box[None]), torch.from_numpy(boxes[det][None]))[0, 0] >= min_iou:
            boxes[det] = mask_box
    return Detections(boxes, found.scores, found.labels)


@dataclass
class PostProcess:
    """How outputs become predictions (evaluation and the batch job use the same; training records
    them in the model folder's metadata)."""

    flips: bool = True  # average 4 flipped passes (exactly flip-equivariant, 4x the model time)
    score_threshold: float = 0.3  # detections that seed instances, and are kept for overlays and F1
    mask_boxes: bool = False  # boxes from the instance masks where they agree (instance models)
    iou_power: float = 0.5  # IoU-aware models: score = heat ** (1 - p) * iou ** p


@torch.no_grad()
def predict_images(model: DenseVisionTransformer, images: list[np.ndarray], post: PostProcess | None = None,
                   batch_size: int = 8) -> list[Prediction]:
    """Predictions for ``uint8 [H, W, 3]`` images (same-sized images are batched together)."""
    post = post or PostProcess()
    results: list[Prediction | None] = [None] * len(images)
    by_size: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(images):
        by_size.setdefault(image.shape[:2], []).append(i)
    for (h, w), indices in by_size.items():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            out = dense_predict(model, torch.from_numpy(np.stack([images[i] for i in chunk])), post.flips)
            for j, i in enumerate(chunk):
                found = detections(out.heat[j], out.box[j], h, w, iou=None if out.iou is None else out.iou[j],
                                   iou_power=post.iou_power)
                confident = np.flatnonzero(found.scores >= post.score_threshold)
                seeds = Detections(found.boxes[confident], found.scores[confident], found.labels[confident])
                semantic = out.seg[j].argmax(0).numpy().astype(np.uint8)
                labels, scores, seeded_by = instance_labels(semantic > 0, out.heat[j].sum(0).numpy(), seeds)
                if post.mask_boxes and model.cfg.num_det_classes == 1 and model.cfg.task == "both":
                    in_found = np.full_like(seeded_by, -1)  # seed index -> index in `found`
                    in_found[seeded_by >= 0] = confident[seeded_by[seeded_by >= 0]]
                    found = boxes_from_masks(found, labels, in_found)
                results[i] = Prediction(semantic, found, labels, scores)
    return results  # type: ignore[return-value]


# ----------------------------------------------------------------- the batch job
def output_name(row_id: str) -> Path:
    """Where a row's PNGs go, relative to masks/ and overlays/: the row id with no root, no ``..``
    and ``.png`` added unless it ends so (``a.jpg`` -> ``a.jpg.png``, so it never meets ``a.png``)."""
    parts = [("_" if part == ".." else part) for part in PurePosixPath(row_id).parts if part not in ("/", ".")]
    name = Path(*parts) if parts else Path("_")
    return name if name.suffix.lower() == ".png" else name.with_name(name.name + ".png")


def label_space(loaded: LoadedModel) -> LabelSpace:
    names = list(loaded.model.cfg.class_names)
    return LabelSpace(names, list(loaded.metadata.get("detection_classes") or names[1:]))


def rle(mask: np.ndarray) -> dict:
    """A boolean mask as COCO compressed RLE with a JSON-ready ``counts`` string."""
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(s) for s in encoded["size"]], "counts": encoded["counts"].decode()}


def from_rle(encoded: dict) -> np.ndarray:
    return mask_utils.decode({"size": encoded["size"], "counts": encoded["counts"].encode()}).astype(bool)


class VisionPredictor:
    """The batch job of ``sextant vision predict``: one row per image file, one record per image.

    ``task`` narrows to what the model was trained for (a segmentation-only model never reports
    boxes). ``finish`` writes the masks, instance masks and overlays as PNGs and
    ``detections.coco.json`` from the records."""

    fmt = "jsonl"
    shard_size = 64
    batch_size = 8

    def __init__(self, model_dir: str | Path, task: str = "both", score_threshold: float = 0.3, flips: bool = True):
        if task not in TASKS:
            raise DataError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        self.loaded = load_model(model_dir)
        trained = self.loaded.metadata.get("task", "both")
        self.task = trained if trained != "both" else task
        self.labels = label_space(self.loaded)
        self.score_threshold = score_threshold
        chosen = self.loaded.metadata.get("post_process", {})  # what the model was selected with
        self.post = PostProcess(flips, score_threshold, bool(chosen.get("mask_boxes", False)),
                                float(chosen.get("iou_power", 0.5)))
        self.instance_model = len(self.labels.detection) == 1 and self.task == "both"

    def rows(self, inputs: Sequence[str]) -> list[InputRow]:
        """One row per image file under each input (a file, a folder, or a .txt/.jsonl manifest); the
        files are listed up front, so a wrong path fails before any work starts, and read when predicted."""
        return [row for path in inputs for row in file_rows(path, IMAGE_SUFFIXES)]

    def predict(self, rows: list[InputRow]) -> list[list[dict] | RowError]:
        results: list[list[dict] | RowError | None] = [None] * len(rows)
        images, where = [], []
        for i, row in enumerate(rows):
            try:
                images.append(read_rgb(row.payload))
                where.append(i)
            except DataError as err:
                results[i] = RowError(str(err))
        preds = predict_images(self.loaded.model, images, self.post)
        for i, image, pred in zip(where, images, preds, strict=True):
            results[i] = [self.record(rows[i], image, pred)]
        return results  # type: ignore[return-value]

    def record(self, row: InputRow, image: np.ndarray, pred: Prediction) -> dict:
        """The output record of one image: size, detections, masks as RLE and the PNG names ``finish`` writes."""
        labels, task = self.labels, self.task
        stem = output_name(row.row_id).as_posix()
        record: dict = {"file": str(row.payload), "width": image.shape[1], "height": image.shape[0]}
        keep = (pred.detections.scores >= self.score_threshold) & (task != "segment")
        found = [{"box_xyxy": [round(float(v), 2) for v in box], "score": round(float(score), 4),
                  "category": labels.detection[int(k)]}
                 for box, score, k in zip(pred.detections.boxes[keep], pred.detections.scores[keep],
                                          pred.detections.labels[keep], strict=True)]
        record["detections"] = json.dumps(found)
        if task != "detect":
            record["mask"] = f"masks/{stem}"
            record["segments"] = json.dumps({labels.semantic[c]: rle(pred.semantic == c)
                                             for c in np.unique(pred.semantic) if c > 0})
        if self.instance_model:
            record["instance_mask"] = f"instances/{stem}"
            record["instances"] = int(pred.instances.max())
            record["instance_masks"] = json.dumps([{"score": round(float(pred.instance_scores[k - 1]), 4),
                                                    "segmentation": rle(pred.instances == k)}
                                                   for k in range(1, int(pred.instances.max()) + 1)])
        record["overlay"] = f"overlays/{stem}"
        return record

    def finish(self, out_dir: Path, summary: InferenceSummary | None = None) -> dict[str, str]:
        """The PNGs of every record and ``detections.coco.json``; ``{kind: path}``."""
        out_dir = Path(out_dir)
        records = read_outputs(out_dir)
        for record in records:
            write_pictures(out_dir, record, self.labels)
        files = {"detections": str(write_coco_detections(out_dir, self.labels, records))}
        for kind in ("masks", "instances", "overlays"):
            if (out_dir / kind).is_dir():
                files[kind] = f"{out_dir / kind}/"
        return files


def write_pictures(out_dir: Path, record: dict, labels: LabelSpace) -> None:
    """``masks/``, ``instances/`` and ``overlays/`` PNGs of one record (the overlay only while its
    input can still be read)."""
    h, w = record["height"], record["width"]
    semantic = instances = None
    if record.get("segments") is not None:
        names = {name: k for k, name in enumerate(labels.semantic)}
        semantic = np.zeros((h, w), np.uint8)
        for name, encoded in json.loads(record["segments"]).items():
            semantic[from_rle(encoded)] = names[name]
        atomic_write_bytes(out_dir / record["mask"], png_bytes(semantic))
    if record.get("instance_masks") is not None:
        instances = np.zeros((h, w), np.uint16)
        for k, found in enumerate(json.loads(record["instance_masks"]), start=1):
            instances[from_rle(found["segmentation"])] = k
        atomic_write_bytes(out_dir / record["instance_mask"], png_bytes(instances))
    try:
        image = read_rgb(record["file"])
    except DataError:
        return
    if image.shape[:2] != (h, w):
        return
    found = json.loads(record.get("detections") or "[]")
    shown = instances if instances is not None else (semantic if semantic is not None else np.zeros((h, w), np.uint8))
    ids = {name: k for k, name in enumerate(labels.detection)}
    boxes = np.asarray([d["box_xyxy"] for d in found], np.float32).reshape(-1, 4)
    overlay = draw_boxes(colour_labels(image, shown), boxes,
                         [d["category"] for d in found] if len(labels.detection) > 1 else None,
                         np.asarray([ids[d["category"]] + 1 for d in found], np.int64),
                         scale=2 if max(image.shape[:2]) <= 256 else 1)
    atomic_write_bytes(out_dir / record["overlay"], png_bytes(overlay))


def write_coco_detections(output_dir: Path, labels: LabelSpace, records: list[dict] | None = None) -> Path:
    """``detections.coco.json`` from the records of every finished shard."""
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(labels.detection)]
    ids = {name: i + 1 for i, name in enumerate(labels.detection)}
    images, annotations = [], []
    for image_id, record in enumerate(read_outputs(output_dir) if records is None else records, start=1):
        images.append({"id": image_id, "file_name": record["row_id"], "width": record["width"], "height": record["height"]})
        for found in json.loads(record.get("detections") or "[]"):
            x0, y0, x1, y1 = found["box_xyxy"]
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": ids[found["category"]],
                                "bbox": [x0, y0, round(x1 - x0, 2), round(y1 - y0, 2)],
                                "area": round((x1 - x0) * (y1 - y0), 2), "score": found["score"], "iscrowd": 0})
    path = output_dir / "detections.coco.json"
    atomic_write_text(path, json.dumps({"images": images, "annotations": annotations, "categories": categories}) + "\n")
    return path
