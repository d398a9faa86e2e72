"""NeMo-style JSONL manifests: one ``{"audio_filepath", "duration", "text", ...}`` object a line.

Audio paths under the manifest's folder are written relative to it and read
back resolved against it, so a data set folder can be moved as a whole. Keys
beyond the three required ones are kept in ``extra``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shared.atomic import atomic_write_text
from shared.errors import DataError
from shared.paths import allowed_roots, confine

REQUIRED = ("audio_filepath", "duration", "text")


@dataclass
class ManifestEntry:
    audio_filepath: str
    duration: float
    text: str
    extra: dict = field(default_factory=dict)


def _entry(row: object, where: str, folder: Path, roots: list[Path]) -> ManifestEntry:
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object")
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise DataError(f"{where}: missing key(s) {', '.join(missing)}")
    audio, duration, text = row["audio_filepath"], row["duration"], row["text"]
    if not isinstance(audio, str) or not audio:
        raise DataError(f"{where}: audio_filepath must be a non-empty string")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration < 0:
        raise DataError(f"{where}: duration must be a non-negative number, got {duration!r}")
    if not isinstance(text, str):
        raise DataError(f"{where}: text must be a string")
    extra = {k: v for k, v in row.items() if k not in REQUIRED}
    return ManifestEntry(str(confine(audio, folder, where, roots)), float(duration), text, extra)


def read_manifest(path: str | Path) -> list[ManifestEntry]:
    """Entries of a JSONL manifest; relative audio paths are resolved against its folder, and every
    path must lie under it (or a folder in ``SEXTANT_ALLOWED_ROOTS``)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(f"{path}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: unreadable manifest ({error})") from None
    folder = path.absolute().parent
    roots = allowed_roots(folder)
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{where}: bad JSON ({error.msg})") from None
        entries.append(_entry(row, where, folder, roots))
    return entries


def _written_path(audio: str, start: Path, base: Path) -> str:
    """``audio`` (relative paths start at ``start``) relative to ``base`` when under it, else absolute."""
    absolute = Path(os.path.normpath(start / audio))
    try:
        return absolute.relative_to(base).as_posix()
    except ValueError:
        return str(absolute)


def manifest_line(entry: ManifestEntry, start: Path, base: Path) -> str:
    """One JSON line for ``entry`` (the required keys first, then ``extra``)."""
    row = {"audio_filepath": _written_path(entry.audio_filepath, start, base), "duration": entry.duration,
           "text": entry.text}
    row.update({k: v for k, v in entry.extra.items() if k not in REQUIRED})
    return json.dumps(row, ensure_ascii=False)


def write_manifest(path: str | Path, entries: Iterable[ManifestEntry], relative_to: str | Path | None = None) -> Path:
    """Write ``entries`` atomically. Audio paths under the manifest's folder are written relative to it,
    others absolute; relative paths in ``entries`` start at ``relative_to`` (default: the current folder)."""
    path = Path(path)
    base = Path(os.path.abspath(path.parent))
    start = Path(os.path.abspath(relative_to if relative_to is not None else os.getcwd()))
    atomic_write_text(path, "".join(manifest_line(e, start, base) + "\n" for e in entries))
    return path
