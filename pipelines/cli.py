"""``sextant``: the project-wide commands (the demo, serving deployments)."""

from __future__ import annotations

import argparse
import sys

from shared.errors import SextantError

EXAMPLES = """examples:
  sextant demo                 # forecasting, molecules, vision, speech (ASR) and OCR pipelines, with their tables
  sextant demo --core          # the core encoder-decoder demo (copy/reverse)
  sextant serve                # serve every scheduled deployment on this machine
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sextant", description="Sextant: the demo and the scheduled deployments.",
                                     epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the demo pipelines", epilog=EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--core", action="store_true", help="run the core encoder-decoder demo instead")
    demo.add_argument("--out", default="runs/demo", help="where the demo writes (default runs/demo)")
    sub.add_parser("serve", help="serve the scheduled deployments (Ctrl-C to stop)")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            from pipelines.serve import serve_all

            serve_all()
            return 0
        if args.core:
            from shared.demo import main as core_demo

            return core_demo(["--out", f"{args.out}/core"])
        from pipelines.demo import run_demo

        return run_demo(args.out)
    except SextantError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
