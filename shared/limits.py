"""Size limits on untrusted input, with safe defaults and environment overrides.

Apps check a file's declared size (pixels, duration, length) before decoding it, so a
decompression bomb or a day-long recording becomes an error row, not an exhausted machine.
Each limit is read when it is checked, so ``SEXTANT_MAX_...=N`` applies without a restart.
"""

from __future__ import annotations

import os

from shared.errors import ConfigError


def env_limit(variable: str, default: float) -> float:
    """``float(os.environ[variable])`` when set (must be positive), else ``default``."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{variable}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{variable} must be positive, got {raw}")
    return value
