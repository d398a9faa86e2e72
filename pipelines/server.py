"""A real Prefect server on this machine: PostgreSQL, the server, a process worker, every deployment.

    sextant server up      # PostgreSQL (project-local data dir) + Prefect server + work pool + worker + deploy
    sextant server down    # stops exactly the processes `up` started, by PID
    sextant server status  # what runs, and where

Everything lives under ``.sextant/`` in the repository: the PostgreSQL data
directory, the server's ``PREFECT_HOME``, the logs and ``server.json`` (ports,
PIDs, the API URL). Ports are free loopback ports picked at start. PostgreSQL
refuses to run as root, so under root it runs as the ``postgres`` system user
(Debian's package creates it), and the folder must be reachable by that user. Without a server, flows keep using Prefect's
temporary local server on SQLite: that stays the zero-setup default.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipelines.template import TRAINING_LIMIT
from shared.errors import SextantError

REPO = Path(__file__).resolve().parents[1]
WORK_POOL = "sextant-process"
DATABASE = "prefect"
DB_USER = "sextant"


class ServerError(SextantError):
    """The server could not be started or stopped."""


@dataclass
class ServerState:
    """What `up` started (written to ``server.json``; `down` reads it)."""

    root: str
    api_url: str = ""
    pg_port: int = 0
    server_port: int = 0
    database_url: str = ""
    pids: dict[str, int] = field(default_factory=dict)
    sqlite: bool = False

    @property
    def folder(self) -> Path:
        return Path(self.root)

    def save(self) -> None:
        (self.folder / "server.json").write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, root: Path) -> ServerState | None:
        path = root / "server.json"
        return cls(**json.loads(path.read_text())) if path.is_file() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary (Debian keeps them in /usr/lib/postgresql/<version>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if found:
        return str(found[-1])
    if path := shutil.which(name):
        return path
    raise ServerError(f"{name} not found: install Debian's postgresql package (make server-deps)")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if check and done.returncode:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise ServerError(f"{' '.join(cmd[:4])}... failed: {message[-1] if message else done.returncode}")
    return done


def start_postgres(state: ServerState) -> None:
    """Initialise (once) and start a PostgreSQL cluster in ``.sextant/postgres`` on a free loopback port."""
    data, sockets = state.folder / "postgres", state.folder / "pg-sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        for path in (data, sockets):
            path.mkdir(exist_ok=True)
            shutil.chown(path, "postgres", "postgres")
        os.chmod(data, 0o700)
        shutil.chown(state.folder, "postgres", "postgres")  # the log file is written as postgres
    if not (data / "PG_VERSION").is_file():
        _run(_as_postgres([pg_bin("initdb"), "-D", str(data), "-U", DB_USER, "--auth=trust", "-E", "UTF8"]))
    state.pg_port = free_port()
    options = f"-p {state.pg_port} -k {sockets} -c listen_addresses=127.0.0.1"
    _run(_as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(state.folder / "postgres.log"),
                       "-w", "start"]))
    state.pids["postgres"] = int((data / "postmaster.pid").read_text().split()[0])
    created = _run([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(state.pg_port), "-U", DB_USER, DATABASE],
                   check=False)
    if created.returncode and "already exists" not in created.stderr:
        raise ServerError(f"createdb failed: {created.stderr.strip()}")
    state.database_url = f"postgresql+asyncpg://{DB_USER}@127.0.0.1:{state.pg_port}/{DATABASE}"


def prefect_env(state: ServerState) -> dict[str, str]:
    env = {**os.environ, "PREFECT_HOME": str(state.folder / "prefect-home"), "PREFECT_API_URL": state.api_url,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(REPO)}
    if state.database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = state.database_url
    return env


def _spawn(state: ServerState, name: str, cmd: list[str]) -> None:
    log = open(state.folder / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
    process = subprocess.Popen(cmd, env=prefect_env(state), cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    state.pids[name] = process.pid


def wait_healthy(api_url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise ServerError(f"the Prefect server at {api_url} did not become healthy in {timeout:.0f} s")


def prefect(state: ServerState, *args: str) -> subprocess.CompletedProcess:
    """Run a ``prefect`` CLI command against this server."""
    return _run([sys.executable, "-m", "prefect", "--no-prompt", *args], env=prefect_env(state))


def up(root: Path = REPO / ".sextant", sqlite: bool = False, deploy: bool = True, worker: bool = True) -> ServerState:
    """Start everything; returns the state (also in ``root/server.json``)."""
    root.mkdir(parents=True, exist_ok=True)
    if (old := ServerState.load(root)) and old.pids:
        raise ServerError(f"a server is already up at {old.api_url} (sextant server down first)")
    state = ServerState(str(root.resolve()), sqlite=sqlite)
    try:
        if not sqlite:
            start_postgres(state)
        state.server_port = free_port()
        state.api_url = f"http://127.0.0.1:{state.server_port}/api"
        _spawn(state, "server", [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(state.server_port)])
        state.save()
        wait_healthy(state.api_url)
        prefect(state, "work-pool", "create", WORK_POOL, "--type", "process", "--overwrite")
        if prefect_gcl_missing(state):
            prefect(state, "gcl", "create", TRAINING_LIMIT, "--limit", "1")
        if worker:
            _spawn(state, "worker", [sys.executable, "-m", "prefect", "worker", "start", "--pool", WORK_POOL])
        state.save()
        if deploy:
            prefect(state, "deploy", "--all")
    except BaseException:
        down(root, quiet=True)
        raise
    return state


def prefect_gcl_missing(state: ServerState) -> bool:
    return _run([sys.executable, "-m", "prefect", "gcl", "inspect", TRAINING_LIMIT], env=prefect_env(state),
                check=False).returncode != 0


def _stop(pid: int, timeout: float = 20.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.3)
    os.killpg(pid, signal.SIGKILL)


def down(root: Path = REPO / ".sextant", quiet: bool = False) -> list[str]:
    """Stop the worker, the server and PostgreSQL that `up` started; returns what was stopped."""
    state = ServerState.load(root)
    if state is None or not state.pids:
        if not quiet:
            raise ServerError(f"no server recorded in {root}/server.json")
        return []
    stopped = []
    for name in ("worker", "server"):
        if name in state.pids:
            _stop(state.pids.pop(name))
            stopped.append(name)
    if "postgres" in state.pids:
        data = state.folder / "postgres"
        _run(_as_postgres([pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]), check=False)
        state.pids.pop("postgres")
        stopped.append("postgres")
    state.save()
    return stopped


def status(root: Path = REPO / ".sextant") -> dict:
    """Which of the recorded processes are alive, and the API URL."""
    state = ServerState.load(root)
    if state is None:
        return {"up": False, "processes": {}}
    alive = {}
    for name, pid in state.pids.items():
        try:
            os.kill(pid, 0)
            alive[name] = pid
        except ProcessLookupError:
            pass
    return {"up": bool(alive), "api_url": state.api_url, "database": state.database_url or "sqlite",
            "processes": alive, "logs": str(state.folder)}
