"""Serve the scheduled deployments of ``prefect.yaml`` on this machine (no worker or work pool needed).

    sextant serve                     # every deployment
    sextant serve --only forecasting  # the deployments whose name starts with "forecasting"

``prefect.yaml`` is the one place deployments and schedules are declared: ``prefect deploy
--all`` sends them to a server, and this module reads the same file to serve them in one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PREFECT_YAML = Path(__file__).resolve().parents[1] / "prefect.yaml"


def declared_deployments(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The ``deployments`` list of ``prefect.yaml`` (YAML anchors resolved)."""
    import yaml

    return yaml.safe_load(path.read_text())["deployments"]


def load_entrypoint(entrypoint: str, root: Path = PREFECT_YAML.parent) -> Any:
    """The flow an entrypoint (``path/to/file.py:attribute``, relative to the project) names."""
    from prefect.flows import load_flow_from_entrypoint

    path, attribute = entrypoint.split(":")
    return load_flow_from_entrypoint(f"{root / path}:{attribute}")


def to_deployments(declared: list[dict[str, Any]]) -> list:
    """Runner deployments for ``serve()``: the declared flows, names, schedules and parameters."""
    from prefect.schedules import Cron

    deployments = []
    for spec in declared:
        schedules = [Cron(s["cron"], timezone=s.get("timezone")) for s in spec.get("schedules") or []]
        flow = load_entrypoint(spec["entrypoint"])
        deployments.append(flow.to_deployment(name=spec["name"], description=spec.get("description"),
                                              schedules=schedules, parameters=spec.get("parameters") or {}))
    return deployments


def all_deployments(only: str | None = None) -> list:
    """Every deployment ``prefect.yaml`` declares (those whose name starts with ``only``, if given)."""
    return to_deployments([d for d in declared_deployments() if not only or d["name"].startswith(only)])


def serve_all(only: str | None = None) -> None:
    """Serve the deployments in this process until interrupted."""
    from prefect import serve

    serve(*all_deployments(only))


if __name__ == "__main__":
    serve_all()
