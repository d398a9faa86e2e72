"""Vision benchmark: our dense transformer against the classic and YOLOv8n peers.

    python benchmarks/vision.py                 # nuclei (3 tile splits) + generated scenes
    python benchmarks/vision.py --quick         # one nuclei split, short runs (a smoke test)

Nuclei: the StarDist image is tiled and whole tiles are split train/valid/test
by a seed; each split seed is one run. Ours trains on the ``default`` config;
YOLOv8n (ultralytics, from ``yolov8n.yaml``, no pretrained weights) gets the
same wall-clock training budget as ours took on that split (ultralytics'
``time`` argument), selects its best epoch on the same valid tiles, and is
scored by the same COCO evaluator. Otsu + watershed needs no training. The
generated scene set (4 classes) compares ours and YOLOv8n the same way.

Writes ``benchmarks/results/vision.json`` and ``vision.md``. Needs the
``bench`` extra (``make bench``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.vision.app import APP  # noqa: E402
from apps.vision.data import load_prepared  # noqa: E402
from apps.vision.metrics import markdown_table, score_predictions  # noqa: E402
from apps.vision.peers import otsu_predictions  # noqa: E402
from apps.vision.predict import predict_images  # noqa: E402
from benchmarks.vision_yolo import yolo_peer  # noqa: E402
from shared.model_folder import load_model  # noqa: E402

RESULTS = Path(__file__).parent / "results"
COLUMNS = ("instance_f1", "fg_iou", "box_map50", "box_map", "mask_map50", "miou", "train_seconds", "steps", "epochs",
           "images_per_second")


def _speed(fn, images: list[np.ndarray]) -> float:
    fn(images[:1])  # warm-up
    start = time.perf_counter()
    fn(images)
    return len(images) / (time.perf_counter() - start)


def run_one(config: str, overrides: list[str], work: Path, yolo_imgsz: int) -> dict:
    """Ours, the classic peer (when it applies) and YOLOv8n on one dataset/split."""
    cfg = APP.load_config(config, overrides)
    data_dir = APP.prepare(cfg, work / "data")
    data = load_prepared(data_dir)
    trained = APP.train(cfg, data_dir, work / "ours")
    model = load_model(trained.model_dir).model
    test, truth = data.samples["test"], data.truth["test"]
    images = [s.image for s in test]

    def ours_fn(x):
        return predict_images(model, x, cfg.flips, cfg.score_threshold)

    rows = {"ours": {**score_predictions(ours_fn(images), test, "both", truth, data.labels.semantic),
                     "train_seconds": trained.seconds, "steps": trained.steps,
                     "images_per_second": _speed(ours_fn, images)}}
    if len(data.labels.detection) == 1:
        rows["otsu_watershed"] = {**score_predictions(otsu_predictions(images), test, "both", truth, data.labels.semantic),
                                  "train_seconds": 0.0, "images_per_second": _speed(otsu_predictions, images)}
    yolo = yolo_peer(data.truth, work / "yolo", epochs=100_000, imgsz=yolo_imgsz, seed=cfg.data.seed,
                     time_hours=trained.seconds / 3600)
    rows["yolov8n"] = yolo
    return {"config": config, "overrides": overrides, "images": {k: len(v) for k, v in data.samples.items()},
            "objects": {k: int(sum(len(s.boxes) for s in v)) for k, v in data.samples.items()}, "models": rows}


def mean_rows(runs: list[dict]) -> dict[str, dict[str, float]]:
    models = runs[0]["models"].keys()
    return {m: {k: float(np.mean([r["models"][m][k] for r in runs])) for k in runs[0]["models"][m]
                if all(k in r["models"][m] for r in runs) and isinstance(runs[0]["models"][m][k], (int, float))}
            for m in models}


def markdown(title: str, rows: dict[str, dict[str, float]]) -> str:
    table = [{"model": name, **row} for name, row in rows.items()]
    return f"### {title}\n\n" + markdown_table(table, COLUMNS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one split, 40 steps: checks the script, not the models")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="nuclei tile-split seeds")
    parser.add_argument("--no-scenes", action="store_true")
    parser.add_argument("--reuse-nuclei", action="store_true",
                        help="keep the nuclei runs of the existing vision.json and rerun only the scenes")
    parser.add_argument("--work", default="runs/bench/vision")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    quick = ["train.max_steps=40", "train.eval_every=20"] if args.quick else []
    seeds = args.seeds[:1] if args.quick else args.seeds
    work = Path(args.work)
    report: dict = {"machine": {"python": platform.python_version(), "torch": torch.__version__,
                                "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()},
                    "nuclei": [], "scenes": None}
    if args.reuse_nuclei:
        report["nuclei"] = json.loads((Path(args.out) / "vision.json").read_text())["nuclei"]
        seeds = [int(run["overrides"][0].split("=")[1]) for run in report["nuclei"]]
    for seed in [] if args.reuse_nuclei else seeds:
        print(f"== nuclei, tile split seed {seed}", flush=True)
        report["nuclei"].append(run_one("default", [f"data.seed={seed}", *quick], work / f"nuclei-{seed}", 128))
    if not args.no_scenes:
        print("== generated scenes", flush=True)
        scene_quick = ["data.scenes.images=40", "data.scenes_test=20", *quick] if args.quick else []
        report["scenes"] = run_one("scenes", scene_quick, work / "scenes", 128)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "vision.json").write_text(json.dumps(report, indent=2) + "\n")
    parts = ["## Vision: ours vs peers (test split; higher is better; speeds on this machine's CPU)\n",
             "YOLOv8n trains for the wall-clock time ours took (`epochs`: how many that was). Ours predicts "
             "with 4 flip-averaged passes per image (images/s includes them).\n",
             markdown(f"Nuclei, mean of {len(seeds)} tile splits (seeds {', '.join(map(str, seeds))})",
                      mean_rows(report["nuclei"]))]
    for run in report["nuclei"]:
        parts.append(markdown(f"Nuclei, split seed {run['overrides'][0].split('=')[1]} "
                              f"({run['objects']['test']} test nuclei)", run["models"]))
    if report["scenes"]:
        parts.append(markdown(f"Generated scenes ({report['scenes']['images']['test']} test images, 4 classes)",
                              report["scenes"]["models"]))
    (out / "vision.md").write_text("\n".join(parts))
    print("\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
