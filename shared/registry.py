"""Model registry: versioned model folders with metrics and a ``champion`` alias.

Layout under the registry root::

    <name>/versions/v0001/   a copy of the model folder + version.json
    <name>/aliases.json      {"champion": "v0001", ...}
    <name>/.lock             flock'd around every change

A new version is promoted to champion only when its metric beats the current
champion's. Writes are atomic and serialised with a file lock, so two
processes promoting at once leave a consistent state. Every version records
the sha256 of its weights, checked when it is loaded.

Why not the MLflow registry: it brings Flask, alembic, graphene and a second
SQLAlchemy user next to Prefect's pinned one (~40 packages) for what is here
one directory per version and one JSON file of aliases. The layout is plain
files, so it can be synced to object storage or read by other tools.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from shared.atomic import atomic_directory, atomic_write_text, sha256_file
from shared.errors import RegistryError
from shared.model_folder import WEIGHTS, LoadedModel, load_model, read_model_spec

CHAMPION = "champion"
Mode = Literal["min", "max"]


@dataclass
class ModelVersion:
    """One registered model version."""

    name: str
    version: str
    path: Path
    metrics: dict[str, float]
    weights_sha256: str
    created: float
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Promotion:
    """The outcome of :meth:`ModelRegistry.promote_if_better`."""

    promoted: bool
    champion: str
    previous: str | None
    reason: str


def is_better(new: float, old: float, mode: Mode) -> bool:
    """Strictly better, treating NaN as worst."""
    if math.isnan(new):
        return False
    if math.isnan(old):
        return True
    return new < old if mode == "min" else new > old


class ModelRegistry:
    """A registry rooted at a directory (created on first use)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ------------------------------------------------------------ internals
    def _model_dir(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise RegistryError(f"invalid model name {name!r}")
        return self.root / name

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[Path]:
        model_dir = self._model_dir(name)
        model_dir.mkdir(parents=True, exist_ok=True)
        with open(model_dir / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield model_dir
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _aliases(self, name: str) -> dict[str, str]:
        path = self._model_dir(name) / "aliases.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def _read_version(self, name: str, version: str) -> ModelVersion:
        path = self._model_dir(name) / "versions" / version
        meta_path = path / "version.json"
        if not meta_path.is_file():
            raise RegistryError(f"model {name!r} has no version {version!r}")
        meta = json.loads(meta_path.read_text())
        return ModelVersion(name=name, version=version, path=path, metrics=meta["metrics"],
                            weights_sha256=meta["weights_sha256"], created=meta["created"], tags=meta.get("tags", {}))

    # ------------------------------------------------------------ queries
    def models(self) -> list[str]:
        """Names of registered models."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "versions").is_dir())

    def versions(self, name: str) -> list[ModelVersion]:
        """All versions of ``name``, oldest first."""
        root = self._model_dir(name) / "versions"
        if not root.is_dir():
            return []
        return [self._read_version(name, p.name) for p in sorted(root.iterdir()) if (p / "version.json").is_file()]

    def get(self, name: str, ref: str = CHAMPION) -> ModelVersion:
        """A version by id (``v0003``) or alias (``champion``)."""
        version = self._aliases(name).get(ref, ref)
        return self._read_version(name, version)

    def champion(self, name: str) -> ModelVersion | None:
        """The champion version, or ``None`` before the first promotion."""
        version = self._aliases(name).get(CHAMPION)
        return self._read_version(name, version) if version else None

    # ------------------------------------------------------------ changes
    def register(self, name: str, model_dir: str | Path, metrics: dict[str, float], tags: dict[str, str] | None = None) -> ModelVersion:
        """Copy a model folder in as the next version, with its metrics."""
        model_dir = Path(model_dir)
        read_model_spec(model_dir)  # refuse anything that is not a model folder
        with self._locked(name) as root:
            versions = root / "versions"
            versions.mkdir(exist_ok=True)
            numbers = [int(p.name[1:]) for p in versions.iterdir() if p.name.startswith("v") and p.name[1:].isdigit()]
            version = f"v{max(numbers, default=0) + 1:04d}"
            meta = {
                "metrics": {k: float(v) for k, v in metrics.items()},
                "weights_sha256": sha256_file(model_dir / WEIGHTS),
                "created": time.time(),
                "tags": tags or {},
            }
            with atomic_directory(versions / version) as tmp:
                shutil.copytree(model_dir, tmp, dirs_exist_ok=True)
                (tmp / "version.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return self._read_version(name, version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at ``version`` unconditionally (e.g. a manual rollback)."""
        with self._locked(name) as root:
            self._read_version(name, version)
            aliases = self._aliases(name)
            aliases[alias] = version
            atomic_write_text(root / "aliases.json", json.dumps(aliases, indent=2, sort_keys=True) + "\n")

    def promote_if_better(self, name: str, version: str, metric: str, mode: Mode = "min") -> Promotion:
        """Make ``version`` the champion if its ``metric`` beats the champion's."""
        with self._locked(name) as root:
            candidate = self._read_version(name, version)
            if metric not in candidate.metrics:
                raise RegistryError(f"{name} {version} has no metric {metric!r} (has {sorted(candidate.metrics)})")
            aliases = self._aliases(name)
            current_id = aliases.get(CHAMPION)
            if current_id is not None:
                current = self._read_version(name, current_id)
                old = current.metrics.get(metric, float("nan"))
                new = candidate.metrics[metric]
                if current_id == version or not is_better(new, old, mode):
                    reason = f"{metric}={new:.6g} does not beat champion {current_id} ({old:.6g}, {mode} is better)"
                    return Promotion(False, current_id, current_id, reason)
                reason = f"{metric}={new:.6g} beats champion {current_id} ({old:.6g})"
            else:
                reason = "first version: no champion yet"
            aliases[CHAMPION] = version
            atomic_write_text(root / "aliases.json", json.dumps(aliases, indent=2, sort_keys=True) + "\n")
            return Promotion(True, version, current_id, reason)

    def verified(self, name: str, ref: str = CHAMPION) -> ModelVersion:
        """:meth:`get`, after checking that the version's weights still have their registered sha256.

        Use it whenever a registered folder is handed to code that loads it by path (batch flows).
        """
        entry = self.get(name, ref)
        actual = sha256_file(entry.path / WEIGHTS)
        if actual != entry.weights_sha256:
            raise RegistryError(f"{name} {entry.version}: weights sha256 mismatch (file changed or corrupt)")
        return entry

    def load(self, name: str, ref: str = CHAMPION) -> tuple[LoadedModel, ModelVersion]:
        """Load a version's model after checking its weights' sha256."""
        entry = self.verified(name, ref)
        return load_model(entry.path), entry

    def describe(self, name: str) -> dict[str, Any]:
        """A JSON-able summary: versions, metrics, aliases."""
        return {
            "name": name,
            "aliases": self._aliases(name),
            "versions": [{**asdict(v), "path": str(v.path)} for v in self.versions(name)],
        }
