"""Vision settings compared on the VALID split only (never the test split): what the shipped
configs turn on is chosen here.

    python benchmarks/vision_ablation.py base                          # the default config
    python benchmarks/vision_ablation.py ema train.ema_decay=0.999      # a named variant: overrides
    python benchmarks/vision_ablation.py --report                       # rewrite the markdown only

Each variant trains on each nuclei tile split (``--seeds``), then its checkpoint selected on the
valid tiles is scored on those same valid tiles under every post-processing choice (flip
averaging on or off, boxes from instance masks on or off), with images/s. Runs resume: a
(variant, seed) already in the JSON is skipped. Writes ``benchmarks/results/vision_ablation.json``
and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from apps.vision.app import APP  # noqa: E402
from apps.vision.data import load_prepared  # noqa: E402
from apps.vision.metrics import score_predictions  # noqa: E402
from apps.vision.predict import predict_images  # noqa: E402
from apps.vision.train import post_process  # noqa: E402
from shared.model_folder import load_model  # noqa: E402
from shared.reporting import markdown_table  # noqa: E402

RESULTS = Path(__file__).parent / "results"
METRICS = ("box_map", "box_map50", "instance_f1", "fg_iou", "mask_map50")
POSTS = {"flips": {"flips": True, "mask_boxes": False}, "flips+mask_boxes": {"flips": True, "mask_boxes": True},
         "no_flips": {"flips": False, "mask_boxes": False}, "no_flips+mask_boxes": {"flips": False, "mask_boxes": True}}


def run_variant(name: str, overrides: list[str], seed: int, config: str, work: Path) -> dict:
    cfg = APP.load_config(config, [*overrides, f"data.seed={seed}"])
    data_dir = APP.prepare(cfg, work / "data")
    data = load_prepared(data_dir)
    trained = APP.train(cfg, data_dir, work / f"{name}-{seed}", resume=True)
    model = load_model(trained.model_dir).model
    valid, truth = data.samples["valid"], data.truth["valid"]
    images = [s.image for s in valid]
    posts = {}
    for post_name, change in POSTS.items():
        post = replace(post_process(cfg), **change)
        predict_images(model, images[:1], post)  # warm-up
        start = time.perf_counter()
        preds = predict_images(model, images, post)
        seconds = time.perf_counter() - start
        scores = score_predictions(preds, valid, "both", truth, data.labels.semantic)
        posts[post_name] = {**{k: scores[k] for k in METRICS if k in scores}, "images_per_second": len(images) / seconds}
    return {"variant": name, "overrides": overrides, "config": config, "seed": seed, "steps": trained.steps,
            "train_seconds": trained.seconds, "valid_images": len(valid), "posts": posts}


def report(runs: list[dict], out: Path) -> None:
    rows = []
    for name in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == name]
        for post in POSTS:
            row = {"variant": name, "post": post, "seeds": len(mine)}
            for k in (*METRICS, "images_per_second"):
                values = [r["posts"][post][k] for r in mine if k in r["posts"].get(post, {})]
                if values:
                    row[k] = float(np.mean(values))
            row["train_seconds"] = float(np.mean([r["train_seconds"] for r in mine]))
            rows.append(row)
    overrides = {r["variant"]: " ".join(r["overrides"]) or "(default config)" for r in runs}
    text = ["## Vision: settings compared on the valid split (mean over tile-split seeds; `scenes_*` variants: the "
            "generated scenes, `--config scenes`, whose split does not depend on the seed)\n",
            "Only the valid tiles of each split are scored here; the test tiles are read by `benchmarks/vision.py` "
            "alone. The valid split is small (2 tiles, about 25 nuclei per seed), so differences under about "
            "0.02 are noise.\n",
            markdown_table(rows, ("post", "seeds", *METRICS, "images_per_second", "train_seconds"), counts=("seeds",),
                           key="variant"),
            "\nVariants:\n", *[f"- `{k}`: `{v}`" for k, v in overrides.items()], ""]
    (out / "vision_ablation.md").write_text("\n".join(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variant", nargs="?", help="a name for these overrides")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. train.ema_decay=0.999")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument("--config", default="default")
    parser.add_argument("--report", action="store_true", help="only rewrite the markdown from the JSON")
    parser.add_argument("--work", default="runs/bench/vision-ablation")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    out = Path(args.out)
    path = out / "vision_ablation.json"
    runs = json.loads(path.read_text()) if path.is_file() else []
    if not args.report:
        if not args.variant:
            parser.error("name a variant (or --report)")
        for seed in args.seeds:
            same = [r for r in runs if r["variant"] == args.variant and r["seed"] == seed]
            if same and same[0]["overrides"] != args.overrides:
                parser.error(f"variant {args.variant!r} was run with {same[0]['overrides']}; give these overrides a new name")
            if same:
                print(f"{args.variant} seed {seed}: done already", flush=True)
                continue
            print(f"== {args.variant} (split seed {seed}): {' '.join(args.overrides)}", flush=True)
            runs.append(run_variant(args.variant, args.overrides, seed, args.config, Path(args.work)))
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(runs, indent=2) + "\n")
    report(runs, out)
    print((out / "vision_ablation.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
