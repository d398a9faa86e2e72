"""Where paths from untrusted places may point.

A path read from a manifest, a label file or a config must resolve (symlinks and ``..``
included) under its allowed root: the manifest's or label file's folder, or the working
directory for paths a config names, plus any folder listed in ``SEXTANT_ALLOWED_ROOTS``
(``os.pathsep``-separated). So a manifest from elsewhere cannot make a job read ``/etc/...`` or
``../../secrets``; a user whose data lives elsewhere lists its folder in the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from shared.errors import DataError

ALLOWED_ROOTS_ENV = "SEXTANT_ALLOWED_ROOTS"


def allowed_roots(base: str | Path) -> list[Path]:
    """``base`` plus the folders listed in ``SEXTANT_ALLOWED_ROOTS``, resolved."""
    extra = [Path(p.strip()).expanduser() for p in os.environ.get(ALLOWED_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    return [Path(root).resolve() for root in [base, *extra]]


def confine(entry: str | Path, base: str | Path, where: str, roots: list[Path] | None = None,
            root_name: str = "the manifest's folder") -> Path:
    """``entry`` (relative ones start at ``base``; ``~`` is not expanded) if it resolves under
    ``roots`` (default: :func:`allowed_roots` of ``base``); else a one-line :class:`DataError`
    naming ``where``."""
    item = Path(entry)
    path = item if item.is_absolute() else Path(base) / item
    try:
        resolved = path.resolve()
    except (OSError, ValueError, RuntimeError) as err:  # a NUL byte, a symlink loop
        raise DataError(f"{where}: {str(entry)[:80]!r} is not a usable path ({err})") from None
    if not any(resolved.is_relative_to(root) for root in (roots if roots is not None else allowed_roots(base))):
        raise DataError(f"{where}: {entry} is outside {root_name}; add its folder to {ALLOWED_ROOTS_ENV} to allow it")
    return path


def config_path(value: str | Path, key: str) -> Path:
    """A file or folder a config names (``key``, e.g. ``coco.train``), resolved: it must lie
    under the working directory or a folder in ``SEXTANT_ALLOWED_ROOTS``."""
    return confine(Path(value).expanduser(), Path.cwd(), f"config {key}", root_name="the working directory").resolve()
