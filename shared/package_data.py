"""Data files shipped inside installed packages, found without importing the package.

Some packages are installed only for their data (``--no-deps``); importing
them would fail or pull in heavy dependencies, so only their location is asked.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from shared.errors import DataError


def package_dir(name: str) -> Path:
    """Where an installed package lives, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"package {name!r} is not installed (make install installs it)")
    return Path(next(iter(spec.submodule_search_locations)))
