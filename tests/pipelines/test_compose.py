"""docker/compose.yaml, checked statically (no Docker engine runs here)."""

from pathlib import Path

import yaml

from pipelines.server import WORK_POOL
from pipelines.template import TRAINING_LIMIT

REPO = Path(__file__).resolve().parents[2]


def test_compose_file_wires_postgres_server_worker_and_deploy():
    compose = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "prefect-server", "worker", "deploy"} <= set(services)
    server = services["prefect-server"]
    assert server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in server["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    assert server["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "deploy"):
        assert services[name]["image"] == "sextant:cpu"  # the YAML anchor merged
        assert services[name]["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
        assert services[name]["depends_on"]["prefect-server"]["condition"] == "service_healthy"
    assert WORK_POOL in services["worker"]["command"]
    deploy = services["deploy"]["command"][0]
    assert WORK_POOL in deploy and TRAINING_LIMIT in deploy and "deploy --all" in deploy
    assert "COPY prefect.yaml" in (REPO / "docker" / "Dockerfile").read_text()


def test_compose_dask_profile_gives_a_scheduler_and_one_thread_workers():
    from pipelines.fanout import DASK_ADDRESS_ENV

    services = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())["services"]
    scheduler, worker = services["dask-scheduler"], services["dask-worker"]
    assert scheduler["profiles"] == worker["profiles"] == ["dask"]  # off unless asked for
    assert scheduler["command"][:2] == ["dask", "scheduler"] and "8786" in scheduler["command"]
    assert worker["command"][:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    assert worker["command"][worker["command"].index("--nthreads") + 1] == "1"
    assert worker["image"] == "sextant:cpu"  # the project and the pinned stack, like the Prefect worker
    assert DASK_ADDRESS_ENV in services["worker"]["environment"]
    assert services["worker"]["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
