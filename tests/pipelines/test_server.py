"""Integration: PostgreSQL + a Prefect server + a process worker, the tiny forecasting flow deployed
from prefect.yaml, triggered with `prefect deployment run`, and everything torn down (also on failure)."""

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

import pytest

from pipelines import server

DEPLOYMENT = "forecasting-retrain/forecasting-nightly-retrain"


@pytest.fixture
def running_server():
    # not pytest's tmp_path: its folders are private to root, and PostgreSQL runs as `postgres` under root
    root = Path(tempfile.mkdtemp(prefix="sextant-server-test-"))
    root.chmod(0o755)
    try:
        state = server.up(root, deploy=False)
        yield state
    finally:
        server.down(root, quiet=True)
        assert not server.status(root)["processes"]  # nothing left running
        shutil.rmtree(root, ignore_errors=True)


def _deployment_and_artifacts(state):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def read():
        async with get_client() as client:
            deployment = await client.read_deployment_by_name(DEPLOYMENT)
            artifacts = await client.read_artifacts()
            return deployment, {a.key for a in artifacts if a.key}

    with temporary_settings({PREFECT_API_URL: state.api_url}):
        return asyncio.run(read())


def _listening_hosts(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    hosts = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                hosts.add("127.0.0.1" if address == "0100007F" else "::1" if address.endswith("01000000")
                          and set(address[:24]) == {"0"} else address)
    return hosts


def test_deployed_flow_runs_on_a_postgres_backed_server(running_server, tmp_path):
    state = running_server
    assert state.database_url.startswith("postgresql+asyncpg://") and set(state.pids) == {"postgres", "server", "worker"}
    for port in (state.pg_port, state.server_port):  # loopback only, never all interfaces
        assert _listening_hosts(port) == {"127.0.0.1"}, port
    server.prefect(state, "deploy", "--name", "forecasting-nightly-retrain")
    params = {"config": "tiny", "registry": str(tmp_path / "registry"), "run_root": str(tmp_path / "runs"),
              "prepared": str(tmp_path / "data")}
    run = server.prefect(state, "deployment", "run", DEPLOYMENT, "--params", json.dumps(params), "--watch",
                         "--watch-timeout", "600")
    assert "Completed" in run.stdout, run.stdout[-2000:]
    deployment, artifact_keys = _deployment_and_artifacts(state)
    crons = [s.schedule.cron for s in deployment.schedules]
    assert crons == ["0 2 * * *"] and deployment.work_pool_name == server.WORK_POOL
    assert "forecasting-metrics" in artifact_keys
    assert (tmp_path / "registry" / "forecasting").is_dir()
    limits = server.prefect(state, "gcl", "inspect", server.TRAINING_LIMIT, "--output", "json")
    assert json.loads(limits.stdout)["limit"] == 1
