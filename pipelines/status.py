"""`sextant status`: each domain's champion model and its metrics, and the last flow runs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from shared.registry import ModelRegistry

HEADLINE_METRICS = ("mase", "rmse", "mean_ap", "wer", "cer", "rougeL", "mae", "miou")


def champions(registry: str | Path) -> list[dict]:
    """One row per registered model: champion version, when, and its headline metrics."""
    reg = ModelRegistry(registry)
    rows = []
    for name in reg.models():
        champ = reg.champion(name)
        if champ is None:
            rows.append({"model": name, "champion": "-", "versions": len(reg.versions(name))})
            continue
        shown = {k: round(v, 4) for k, v in champ.metrics.items() if k in HEADLINE_METRICS}
        rows.append({"model": name, "champion": champ.version, "versions": len(reg.versions(name)),
                     "registered": time.strftime("%Y-%m-%d %H:%M", time.localtime(champ.created)), **shown})
    return rows


async def _recent_runs(limit: int) -> list[dict]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    async with get_client() as client:
        runs = await client.read_flow_runs(limit=limit, sort=FlowRunSort.START_TIME_DESC)
        flows = {f.id: f.name for f in await client.read_flows(limit=200)}
    return [{"flow": flows.get(r.flow_id, str(r.flow_id)), "run": r.name,
             "state": r.state.name if r.state else "?",
             "start": r.start_time.strftime("%Y-%m-%d %H:%M") if r.start_time else "-"} for r in runs]


def recent_runs(limit: int = 10, api_url: str | None = None) -> list[dict]:
    """The last flow runs on the server at ``api_url`` (default: PREFECT_API_URL, else Prefect's local database)."""
    if not api_url:
        return asyncio.run(_recent_runs(limit))
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}):
        return asyncio.run(_recent_runs(limit))


def format_rows(rows: list[dict]) -> str:
    if not rows:
        return "  (none)\n"
    keys = list(dict.fromkeys(k for row in rows for k in row))
    widths = {k: max(len(k), *(len(str(r.get(k, ""))) for r in rows)) for k in keys}
    lines = ["  " + "  ".join(k.ljust(widths[k]) for k in keys)]
    lines += ["  " + "  ".join(str(r.get(k, "")).ljust(widths[k]) for k in keys) for r in rows]
    return "\n".join(lines) + "\n"
