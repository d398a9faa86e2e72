"""The vision app's typed config, loaded from ``configs/<name>.yaml``.

Top level: ``data`` (which images, how they are split and cropped), ``model`` (the task and
the architecture), ``train`` (the shared training loop), ``loss`` (head weights) and the
prediction settings used by evaluation (``flips``, ``score_threshold``) and the ``peers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from apps.vision.datasets.scenes import SceneConfig
from apps.vision.losses import LossWeights
from apps.vision.model import VisionModelConfig
from shared.config import check_names, config_file, load_config
from shared.training import TrainConfig

CONFIG_DIR = Path(__file__).parent / "configs"
PEERS = ("otsu_watershed",)
SPLITS = ("train", "valid", "test")
ALL = "all"  # the key of a user's one unsplit COCO file or image + mask folder pair


@dataclass
class DataConfig:
    """Which images, how they are split, and the training crops.

    ``dataset``: ``nuclei`` (StarDist tiles) or ``scenes`` (generated), shipped; ``coco`` or
    ``folders``, the user's own (``--data`` fills these in). ``coco`` maps ``train``, ``valid``
    and ``test`` to COCO instances files (images resolve next to each file), or ``all`` to one
    file that is split here. ``folders`` maps the same keys to ``[images_dir, masks_dir]``
    (class-index PNG masks with the images' stems). An ``all`` entry is split at the image
    level: a seeded shuffle (``seed``) cut by ``split`` (train, valid, test fractions).
    """

    dataset: Literal["nuclei", "scenes", "coco", "folders"] = "nuclei"
    name: str = ""  # the user's data set (file stem or folder name): registry name vision-<name>
    seed: int = 0  # split seed (nuclei tiles, a user's unsplit data); also added to train.seed
    split: list[float] = field(default_factory=lambda: [0.7, 0.15, 0.15])
    coco: dict[str, str] = field(default_factory=dict)
    folders: dict[str, list[str]] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)  # mask folders: class names, background first (default: inferred)
    tile: int = 128  # nuclei tile side
    scenes: SceneConfig = field(default_factory=SceneConfig)  # `images` is the training-set size
    scenes_valid: int = 40
    scenes_test: int = 100
    crop: int = 128  # training crop side (a multiple of 8)
    repeats: int = 4  # augmented draws of each training image per epoch
    augment: Literal["none", "basic", "strong"] = "basic"  # strong: + copy-paste, scale jitter, zoom-out, affine
    copy_paste: float = 0.5  # strong: the chance an item gets another image's instances pasted on
    cache_dir: str = "data/cache/vision"

    def __post_init__(self) -> None:
        if self.name and (not all(c.isalnum() or c in "-_." for c in self.name) or self.name.startswith(".")):
            raise ValueError(f"name may hold letters, digits, '-', '_' and '.' only, got {self.name!r}")
        if self.crop % 8 or self.crop < 8:
            raise ValueError(f"crop must be a positive multiple of 8, got {self.crop}")
        if len(self.split) != 3 or min(self.split) < 0 or sum(self.split) <= 0:
            raise ValueError(f"split must be three non-negative fractions (train, valid, test), got {self.split}")
        for key, entries in (("coco", self.coco), ("folders", self.folders)):
            unknown = sorted(set(entries) - {*SPLITS, ALL})
            if unknown:
                raise ValueError(f"{key}: unknown key(s) {unknown}; use train, valid and test, or all")
        for key, pair in self.folders.items():
            if len(pair) != 2:
                raise ValueError(f"folders.{key} must be [images_dir, masks_dir], got {pair}")


@dataclass
class VisionConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: VisionModelConfig = field(default_factory=VisionModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    flips: bool = True  # average predictions over flips (exactly flip-equivariant output)
    score_threshold: float = 0.3  # detections kept for instances, overlays and F1
    mask_boxes: bool = False  # instance models: a detection's box from its instance mask where the two agree
    iou_power: float = 0.5  # iou_aware models: detection score = heat ** (1 - p) * iou ** p
    peers: list[str] = field(default_factory=lambda: list(PEERS))

    def __post_init__(self) -> None:
        if not 0.0 <= self.iou_power <= 1.0:
            raise ValueError(f"iou_power must be in [0, 1], got {self.iou_power}")
        check_names(self.peers, PEERS, "peer", " (YOLOv8n: benchmarks/vision.py)")


def load_vision_config(name_or_path: str = "default", overrides: list[str] | None = None) -> VisionConfig:
    """``default``, ``demo``, ``scenes`` or ``tiny`` (shipped configs), or a path to a YAML file."""
    return load_config(VisionConfig, config_file(name_or_path, CONFIG_DIR), overrides)
