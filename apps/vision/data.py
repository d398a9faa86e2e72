"""The vision app's data: labelled images from COCO instances files or image + mask folders,
split into train, valid and test and recorded in a prepared folder.

A :class:`Sample` is one image with whatever labels its source has: COCO
instances give boxes, instance masks and (painted from the masks) a semantic
class map; image + label-mask folders give only the class map, so a model
trained on them learns segmentation alone. Images are small here, so a whole
split is held in memory.

A prepared folder holds ``dataset.json``: the kind (``coco`` or ``folders``), the files of
each split, the class names and the split rule in one sentence. The shipped data sets
(:mod:`apps.vision.datasets`) are written into it as COCO; a user's files are referenced
where they are, and a user's unsplit COCO file is split into ``train.json``, ``valid.json``
and ``test.json`` there. The user's formats (``--data``):

- one COCO instances ``.json`` (``file_name`` paths resolve next to it), or a folder holding
  ``train.json``, ``valid.json`` and ``test.json`` (also ``instances_<split>.json``, ``val``);
- a folder with ``images/`` and ``masks/`` (class-index PNGs with the images' stems), or with
  ``train/``, ``valid/`` and ``test/`` sub-folders, each holding ``images/`` and ``masks/``.

Unsplit data is split at the image level: the images (sorted by COCO id, or by file stem) are
shuffled with ``data.seed`` and cut by ``data.split`` (70/15/15 by default), at least one image
each in valid and test. Validation refuses an image whose pixels appear in two splits.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from apps.vision.coco import CocoDataset, annotation_mask, load_coco
from apps.vision.folders import pair_folders, read_label_mask
from apps.vision.images import read_rgb
from apps.vision.losses import IGNORE
from shared.atomic import atomic_write_text
from shared.errors import DataError
from shared.paths import config_path

if TYPE_CHECKING:
    from apps.vision.config import DataConfig, VisionConfig

SPLITS = ("train", "valid", "test")
ALL = "all"
VOID = 255  # a mask value nobody is scored on (Pascal VOC's void), unless the masks are 0/255 binary
SPEC = "dataset.json"
COCO_NAMES = {"train": ("train", "instances_train"), "valid": ("valid", "val", "instances_valid", "instances_val"),
              "test": ("test", "instances_test")}

@dataclass
class Sample:
    name: str
    image: np.ndarray  # uint8 [H, W, 3]
    semantic: np.ndarray | None  # uint8 [H, W] class ids (0 = background)
    boxes: np.ndarray  # float32 [N, 4] xyxy pixels
    labels: np.ndarray  # int64 [N] 0-based detection class
    masks: np.ndarray | None  # bool [N, H, W] instance masks, when the source has them
    # The source labels boxes (COCO), so an image or crop with none has "no objects" as its
    # detection target; image + mask folders have no box labels at all.
    box_labels: bool = True


@dataclass
class LabelSpace:
    """Class names: ``semantic`` includes background at 0; ``detection`` does not."""

    semantic: list[str]
    detection: list[str]


def coco_label_space(dataset: CocoDataset) -> tuple[LabelSpace, dict[int, int]]:
    """Class names and the map from COCO category id to 0-based detection class."""
    categories = sorted(dataset.categories, key=lambda c: c["id"])
    index = {int(c["id"]): i for i, c in enumerate(categories)}
    names = [str(c["name"]) for c in categories]
    return LabelSpace(["background", *names], names), index


def samples_from_coco(dataset: CocoDataset, category_index: dict[int, int]) -> list[Sample]:
    """One sample per image; boxes from ``bbox``, masks and class map from segmentations (when present)."""
    samples = []
    for image in dataset.images:
        pixels = read_rgb(dataset.image_path(image))
        if pixels.shape[:2] != (image.height, image.width):
            raise DataError(f"{image.file_name}: is {pixels.shape[1]}x{pixels.shape[0]}, "
                            f"the COCO file says {image.width}x{image.height}")
        anns = [a for a in dataset.annotations_for(image.id) if not a.iscrowd]
        boxes = np.array([[a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]] for a in anns],
                         dtype=np.float32).reshape(-1, 4)
        labels = np.array([category_index[a.category_id] for a in anns], dtype=np.int64)
        masks = semantic = None
        if anns and all(a.segmentation is not None for a in anns):
            masks = np.stack([annotation_mask(a, image.height, image.width) for a in anns]).astype(bool)
        if masks is not None or not anns:
            semantic = np.zeros((image.height, image.width), dtype=np.uint8)
            for label, mask in zip(labels, masks if masks is not None else [], strict=True):
                semantic[mask] = label + 1
            for crowd in (a for a in dataset.annotations_for(image.id) if a.iscrowd and a.segmentation is not None):
                semantic[annotation_mask(crowd, image.height, image.width).astype(bool)] = IGNORE  # scored by nobody
            masks = masks if masks is not None else np.zeros((0, image.height, image.width), dtype=bool)
        samples.append(Sample(Path(image.file_name).stem, pixels, semantic, boxes, labels, masks))
    return samples


def samples_from_pairs(pairs: list[tuple[Path, Path]], num_classes: int, binary: bool = False) -> list[Sample]:
    """Semantic-only samples from (image, class-index mask) file pairs. ``binary``: the masks hold
    0 and 255 only, read as background and foreground; otherwise 255 marks void pixels (ignored)."""
    samples = []
    for image_path, mask_path in pairs:
        name = Path(image_path).stem
        image = read_rgb(image_path)
        semantic = read_label_mask(mask_path, None if binary else num_classes, void=None if binary else VOID)
        if semantic.shape != image.shape[:2]:
            raise DataError(f"{name}: mask {semantic.shape} and image {image.shape[:2]} differ in size")
        if binary and not np.isin(semantic, (0, VOID)).all():
            raise DataError(f"{Path(mask_path).name}: the masks were read as 0/255 binary, but this one holds other values")
        semantic = (semantic == VOID) if binary else np.where(semantic == VOID, IGNORE, semantic)
        samples.append(Sample(name, image, semantic.astype(np.uint8), np.zeros((0, 4), np.float32),
                              np.zeros(0, np.int64), None, box_labels=False))
    return samples


def paired_files(images_dir: str | Path, masks_dir: str | Path) -> list[tuple[Path, Path]]:
    """(image, mask) pairs of two folders, matched by stem; an unpaired file is a DataError."""
    pairs = pair_folders(images_dir, masks_dir)
    if pairs.errors:
        first = pairs.errors[0]
        raise DataError(f"{len(pairs.errors)} unpaired file(s) in {images_dir} / {masks_dir}, e.g. "
                        f"{Path(first['path']).name}: {first['reason']}")
    return pairs.pairs


def samples_from_folders(images_dir: str | Path, masks_dir: str | Path, num_classes: int) -> list[Sample]:
    """Semantic-only samples from an image folder and a folder of same-named PNG class masks."""
    return samples_from_pairs(paired_files(images_dir, masks_dir), num_classes)


# ----------------------------------------------------------------- the user's files
def user_source(source: str | Path) -> tuple[str, dict[str, Any], str]:
    """What ``--data`` names, as ``(dataset, entries, name)``: ``("coco", {split or "all": file}, name)``
    or ``("folders", {split or "all": [images_dir, masks_dir]}, name)``; ``name`` is the file's stem
    or the folder's name. Paths are confined to the working directory (or SEXTANT_ALLOWED_ROOTS)."""
    path = config_path(source, "--data")
    if path.is_file():
        if path.suffix.lower() != ".json":
            raise DataError(f"{path.name}: expected a COCO instances .json file, or a folder (see --help)")
        return "coco", {ALL: str(path)}, path.stem
    if not path.is_dir():
        raise DataError(f"--data {source}: no such file or folder")
    if (path / "images").is_dir() and (path / "masks").is_dir():
        return "folders", {ALL: [str(path / "images"), str(path / "masks")]}, path.name
    split_dirs = {s: _split_dir(path, s) for s in SPLITS}
    if all(d is not None and (d / "images").is_dir() and (d / "masks").is_dir() for d in split_dirs.values()):
        return "folders", {s: [str(d / "images"), str(d / "masks")] for s, d in split_dirs.items()}, path.name
    split_files = {s: next((path / f"{n}.json" for n in COCO_NAMES[s] if (path / f"{n}.json").is_file()), None)
                   for s in SPLITS}
    if all(split_files.values()):
        return "coco", {s: str(f) for s, f in split_files.items()}, path.name
    jsons = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json" and p.is_file())
    if len(jsons) == 1:
        return "coco", {ALL: str(jsons[0])}, jsons[0].stem
    raise DataError(f"{path}: expected a COCO .json file (or train.json, valid.json and test.json), an images/ and "
                    f"masks/ folder pair, or train/, valid/ and test/ folders holding images/ and masks/")


def _split_dir(root: Path, split: str) -> Path | None:
    for name in ((split, "val") if split == "valid" else (split,)):
        if (root / name).is_dir():
            return root / name
    return None


def split_items(items: list, fractions: list[float], seed: int) -> dict[str, list]:
    """``items`` shuffled with ``seed`` and cut into train, valid and test by ``fractions`` (at least one
    item each in valid and test); each split keeps the items' original order."""
    n = len(items)
    if n < 3:
        raise DataError(f"{n} image(s): need at least 3 to split into train, valid and test")
    total = sum(fractions)
    order = list(range(n))
    random.Random(seed).shuffle(order)
    n_test = max(1, round(fractions[2] / total * n))
    n_valid = max(1, round(fractions[1] / total * n))
    if n_test + n_valid >= n:
        raise DataError(f"{n} images are too few for the split {fractions}: train would be empty")
    cut = {"test": order[:n_test], "valid": order[n_test : n_test + n_valid], "train": order[n_test + n_valid :]}
    return {s: [items[i] for i in sorted(cut[s])] for s in SPLITS}


def split_rule(d: DataConfig, total: int | None = None) -> str:
    """One sentence: how the images of ``d`` were split."""
    if d.dataset == "nuclei":
        return (f"whole {d.tile}-pixel tiles of the StarDist image, shuffled with seed {d.seed}: 70% train, 10% valid, "
                f"20% test (no pixel in two splits)")
    if d.dataset == "scenes":
        return (f"{d.scenes_test} generated test scenes from their own random stream (seed {d.scenes.seed}), "
                f"never seen in training; model selection on {d.scenes_valid} valid scenes")
    entries = d.coco if d.dataset == "coco" else d.folders
    if ALL not in entries:
        return "your own test split (model selection on your valid split); the test images are never trained on"
    fractions = "/".join(f"{round(100 * f / sum(d.split))}" for f in d.split)
    what = f"your {total} images" if total else "your images"
    return (f"a seeded image-level split of {what} (data.seed={d.seed}): {fractions} percent train/valid/test; "
            f"each image in exactly one split")


def prepared_name(cfg: VisionConfig) -> str:
    """The prepared folder's name: what the data depends on (for a user's files: their paths,
    sizes and modification times, the class names and the split)."""
    d = cfg.data
    if d.dataset == "nuclei":
        return f"nuclei-t{d.tile}-s{d.seed}"
    if d.dataset == "scenes":
        s = d.scenes
        return f"scenes-{s.images}-{d.scenes_valid}-{d.scenes_test}-{s.size}-s{s.seed}"
    entries = d.coco if d.dataset == "coco" else d.folders
    if not entries:
        raise DataError(f"data.dataset={d.dataset} names no files: pass --data PATH (or set data.{d.dataset}.<split>)")
    files: list[Path] = []
    for key, value in sorted(entries.items()):
        for entry in [value] if isinstance(value, str) else value:
            path = config_path(entry, f"data.{d.dataset}.{key}")
            files += sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    stats = [(str(p), *((p.stat().st_size, p.stat().st_mtime_ns) if p.exists() else ())) for p in files]
    key = json.dumps([d.dataset, entries, stats, d.classes, d.split if ALL in entries else None,
                      d.seed if ALL in entries else None], sort_keys=True)
    return f"{d.dataset}-{d.name or d.dataset}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


# ----------------------------------------------------------------- the prepared folder
def prepare(cfg: VisionConfig, out: str | Path) -> Path:
    """Build (shipped sets) or split and reference (the user's files) the data ``cfg`` names in ``out``."""
    out = Path(out)
    d = cfg.data
    if d.dataset == "nuclei":
        from apps.vision.datasets.nuclei import build_nuclei_coco

        files = build_nuclei_coco(out, tile=d.tile, seed=d.seed)
        spec = {"kind": "coco", "splits": {s: p.name for s, p in files.items()},
                "source": "stardist img2d/mask2d (BSD-3-Clause), tiled"}
    elif d.dataset == "scenes":
        from apps.vision.datasets.scenes import write_scenes

        counts = {"train": d.scenes.images, "valid": d.scenes_valid, "test": d.scenes_test}
        spec = {"kind": "coco", "splits": {s: write_scenes(out, replace(d.scenes, images=n), s).name for s, n in counts.items()},
                "source": "generated scenes (apps/vision/datasets/scenes.py)"}
    elif d.dataset == "coco":
        spec = _prepare_coco(d, out)
    else:
        spec = _prepare_folders(d, out)
    total = spec.pop("total", None)
    spec = {"dataset": d.dataset, "name": d.name or d.dataset, **spec, "split_rule": split_rule(d, total)}
    atomic_write_text(out / SPEC, json.dumps(spec, indent=2) + "\n")
    return out


def _entries(d: DataConfig, entries: dict[str, Any]) -> dict[str, Any]:
    if ALL in entries and len(entries) > 1:
        raise DataError(f"data.{d.dataset}: give either 'all' or train, valid and test, not both")
    missing = [s for s in SPLITS if s not in entries] if ALL not in entries else []
    if missing:
        raise DataError(f"data.{d.dataset} needs {', '.join(missing)} too (or one 'all' entry to split): "
                        f"pass --data PATH, or set data.{d.dataset}.<split>")
    return entries


def _prepare_coco(d: DataConfig, out: Path) -> dict:
    entries = _entries(d, d.coco)
    if ALL not in entries:
        files = {s: config_path(entries[s], f"data.coco.{s}") for s in SPLITS}
        for file in files.values():
            load_coco(file)  # refuse a broken file now, not at training time
        return {"kind": "coco", "splits": {s: str(f) for s, f in files.items()}, "source": "your COCO files"}
    file = config_path(entries[ALL], "data.coco.all")
    dataset = load_coco(file)
    parts = split_items(dataset.images, d.split, d.seed)
    for split, images in parts.items():
        ids = {im.id for im in images}
        CocoDataset(images, [a for a in dataset.annotations if a.image_id in ids], dataset.categories,
                    dataset.image_root).save(out / f"{split}.json")
    return {"kind": "coco", "splits": {s: f"{s}.json" for s in SPLITS}, "image_roots": dict.fromkeys(SPLITS, str(file.parent)),
            "source": f"your COCO file {file.name}", "total": len(dataset.images)}


def _prepare_folders(d: DataConfig, out: Path) -> dict:
    entries = _entries(d, d.folders)
    key = lambda s: f"data.folders.{s}"  # noqa: E731
    pairs = {s: paired_files(*(config_path(p, key(s)) for p in entries[s])) for s in entries}
    total = None
    if ALL in pairs:
        total = len(pairs[ALL])
        pairs = split_items(pairs[ALL], d.split, d.seed)
    values: set[int] = set()
    for split_pairs in pairs.values():
        for _, mask in split_pairs:
            values.update(int(v) for v in np.unique(read_label_mask(mask)))
    binary = VOID in values and values <= {0, VOID}
    ids = {1} if binary else values - {VOID}
    top = max(ids, default=0)
    classes = list(d.classes) or (["background", "foreground"] if top <= 1 else
                                  ["background", *(f"class_{k}" for k in range(1, top + 1))])
    if len(classes) < 2:
        raise DataError(f"data.classes needs background and at least one class, got {classes}")
    if top >= len(classes):
        raise DataError(f"the masks hold class ids up to {top}, but data.classes names {len(classes)} classes: {classes}")
    return {"kind": "folders", "splits": {s: [[str(i), str(m)] for i, m in p] for s, p in pairs.items()},
            "classes": classes, "binary_masks": binary, "source": "your image + mask folders", "total": total}


@dataclass
class PreparedData:
    samples: dict[str, list[Sample]]
    truth: dict[str, CocoDataset | None]  # COCO ground truth per split (None for mask folders)
    labels: LabelSpace
    spec: dict[str, Any]


def read_spec(data_dir: str | Path) -> dict[str, Any]:
    path = Path(data_dir) / SPEC
    if not path.is_file():
        raise DataError(f"no prepared dataset in {data_dir}: run prepare first")
    return json.loads(path.read_text())


def load_prepared(data_dir: str | Path) -> PreparedData:
    """Every split's samples, COCO ground truth and the class names of a prepared folder."""
    root = Path(data_dir)
    spec = read_spec(root)
    where = lambda entry: Path(entry) if Path(entry).is_absolute() else root / entry  # noqa: E731
    if spec["kind"] == "coco":
        roots = spec.get("image_roots", {})
        truth = {s: load_coco(where(spec["splits"][s]), roots.get(s)) for s in SPLITS}
        labels, index = coco_label_space(truth["train"])
        for split in ("valid", "test"):
            if coco_label_space(truth[split]) != (labels, index):
                raise DataError(f"{split} has other categories (ids or names) than train")
        return PreparedData({s: samples_from_coco(truth[s], index) for s in SPLITS}, truth, labels, spec)
    classes = spec["classes"]
    samples = {s: samples_from_pairs([(where(i), where(m)) for i, m in spec["splits"][s]], len(classes),
                                     spec.get("binary_masks", False)) for s in SPLITS}
    return PreparedData(samples, dict.fromkeys(SPLITS), LabelSpace(classes, classes[1:]), spec)


def validate_data(data_dir: str | Path) -> dict[str, Any]:
    """Counts per split; refuses empty splits and an image whose pixels appear in two splits."""
    data = load_prepared(data_dir)
    digests: dict[str, str] = {}
    for split in SPLITS:
        if not data.samples[split]:
            raise DataError(f"the {split} split has no images")
        for sample in data.samples[split]:
            digest = hashlib.sha256(sample.image.tobytes()).hexdigest()
            if digests.setdefault(digest, split) != split:
                raise DataError(f"{sample.name} ({split}) is also in {digests[digest]}: splits overlap")
    return {"images": {s: len(v) for s, v in data.samples.items()},
            "objects": {s: int(sum(len(x.boxes) for x in v)) for s, v in data.samples.items()},
            "classes": data.labels.semantic, "source": data.spec.get("source", ""),
            "split_rule": data.spec.get("split_rule", "")}
