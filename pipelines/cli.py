"""``sextant``: the project-wide commands (the demo, serving deployments)."""

from __future__ import annotations

import argparse
import sys

from shared.errors import SextantError

EXAMPLES = """examples:
  sextant demo                 # forecasting, molecules, vision, speech (ASR), OCR and summarization pipelines
  sextant demo --core          # the core encoder-decoder demo (copy/reverse)
  sextant serve                # serve every scheduled deployment on this machine (no server needed)
  sextant server up            # PostgreSQL + Prefect server + work pool + worker + every deployment
  sextant status               # champion models and their metrics, the last flow runs
  sextant server down          # stop what `server up` started
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
    server = sub.add_parser("server", help="a real Prefect server with PostgreSQL, a worker and the deployments",
                            epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    server.add_argument("action", choices=["up", "down", "status"])
    server.add_argument("--sqlite", action="store_true", help="use SQLite instead of PostgreSQL")
    server.add_argument("--no-deploy", action="store_true", help="do not run `prefect deploy --all`")
    status = sub.add_parser("status", help="champion models and metrics, and the last flow runs")
    status.add_argument("--registry", default="runs/registry")
    status.add_argument("--runs", type=int, default=10, help="how many recent flow runs to list")
    args = parser.parse_args(argv)
    try:
        if args.command == "server":
            return _server(args)
        if args.command == "status":
            return _status(args)
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


def _server(args: argparse.Namespace) -> int:
    import json

    from pipelines import server

    if args.action == "up":
        state = server.up(sqlite=args.sqlite, deploy=not args.no_deploy)
        print(f"Prefect server up: {state.api_url} ({'SQLite' if state.sqlite else 'PostgreSQL ' + state.database_url})")
        print(f"work pool {server.WORK_POOL} with a worker; global concurrency limit {server.TRAINING_LIMIT} (1 slot)")
        print(f"logs and PIDs: {state.folder}/\nuse it:  export PREFECT_API_URL={state.api_url}")
        return 0
    if args.action == "down":
        print("stopped: " + (", ".join(server.down()) or "nothing"))
        return 0
    print(json.dumps(server.status(), indent=2))
    return 0


def _status(args: argparse.Namespace) -> int:
    import os

    from pipelines import server, status

    print("Champion models (" + args.registry + "):")
    print(status.format_rows(status.champions(args.registry)), end="")
    state = server.status()
    api_url = os.environ.get("PREFECT_API_URL") or (state["api_url"] if state.get("up") else None)
    print(f"\nLast flow runs ({api_url or 'local database'}):")
    try:
        print(status.format_rows(status.recent_runs(args.runs, api_url)), end="")
    except Exception as err:  # noqa: BLE001 (a status command reports, never crashes)
        print(f"  unavailable: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
