"""``sextant-vision``: prepare, train, evaluate and predict segmentation and detection."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared import distributed
from shared.errors import SextantError

EXAMPLES = """examples:
  sextant-vision prepare                                    # StarDist nuclei tiles -> COCO
  sextant-vision train --config demo --run runs/vision-nuclei
  sextant-vision train --config demo --run runs/vision-ddp --nproc 2    # data-parallel, 2 processes (torchrun)
  sextant-vision evaluate --config demo --model runs/vision-nuclei/best
  sextant-vision predict images/ --model runs/vision-nuclei/best --out preds/
  sextant-vision predict images/ --task detect --model runs/vision-nuclei/best --out boxes/
  sextant-vision train --config scenes --run runs/vision-scenes         # generated 4-class scenes
  sextant-vision train --task segment --set dataset=folders classes=[background,road] \\
      folders.train=[imgs/train,masks/train] folders.valid=[imgs/val,masks/val] folders.test=[imgs/test,masks/test]
  sextant-vision train --set dataset=coco coco.train=a.json coco.valid=b.json coco.test=c.json

--task: segment (class masks), detect (boxes), both (default; single-class models also give instances).
predict writes masks/, instances/, overlays/, detections.coco.json, and errors.jsonl for bad files.
"""


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="sextant-vision", description="Semantic segmentation, object detection and "
                                     "instance masks with a transformer trained from scratch.", epilog=EXAMPLES,
                                     formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("prepare", "build or check a dataset's splits"), ("train", "train a model (best: RUN/best)"),
                       ("evaluate", "test metrics of a model next to the peers, with an overlay panel")):
        p = sub.add_parser(name, help=text, epilog=EXAMPLES, formatter_class=fmt)
        p.add_argument("--config", default="default", help="default, demo, scenes, tiny, or a YAML path")
        p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. train.max_steps=100")
        p.add_argument("--task", choices=["segment", "detect", "both"], default=None)
        p.add_argument("--data", default=None, help="data root (default: the config's cache_dir)")
        if name == "train":
            p.add_argument("--run", default="runs/vision/cli")
            p.add_argument("--resume", action="store_true")
            distributed.add_nproc_option(p)
        if name == "evaluate":
            p.add_argument("--model", required=True)
            p.add_argument("--out", default=None)
    p = sub.add_parser("predict", help="predict every image under a folder (resumable; bad files -> errors.jsonl)",
                       epilog=EXAMPLES, formatter_class=fmt)
    p.add_argument("input", help="image file, folder, or .txt/.jsonl manifest")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--task", choices=["segment", "detect", "both"], default="both")
    p.add_argument("--score-threshold", type=float, default=0.3, help="keep detections at least this confident")
    p.add_argument("--no-flips", action="store_true", help="one pass per image instead of four flip-averaged ones")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from apps.vision import steps

        if args.command == "predict":
            result = steps.predict_path(args.model, args.input, args.out, args.task, args.score_threshold,
                                        not args.no_flips)
            print(result["line"])
            print(f"outputs: {args.out}/ (overlays/, masks/, detections.coco.json, errors.jsonl)")
            return result["exit_code"]
        overrides = list(args.set) + ([f"task={args.task}"] if args.task else [])
        cfg = steps.config(args.config, overrides)
        data = (steps.prepare_data if args.command == "prepare" else steps.ensure_prepared)(cfg, args.data)
        if args.command == "prepare":
            print(json.dumps({"data": data, **steps.validate_data(cfg, data)}, indent=2))
            return 0
        if args.command == "train":
            if (code := distributed.run_under_torchrun_if_asked(args.nproc, "apps.vision.cli", argv)) is not None:
                return code
            result = steps.train_model(cfg, data, args.run, resume=args.resume)
            if distributed.current().is_main:
                print(json.dumps(result, indent=2))
            return 0
        model = Path(args.model)
        if args.out is None and not model.is_symlink():
            raise ValueError(f"{model} is not a run's best/last link: pass --out for the evaluation files")
        out = args.out or str(model.parent / "evaluate")
        result = steps.evaluate_model(cfg, args.model, data, out)
        print(Path(out, "metrics.md").read_text(), end="")
        print(f"tables: {out}/metrics.md; overlays: {result['plot']}")
        return 0
    except (SextantError, ValueError, OSError, KeyError) as err:
        print(f"error: {str(err).splitlines()[0] if str(err) else type(err).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
