"""Fault injection: run a command, SIGKILL it at seeded random moments, rerun until it finishes.

Used by ``tests/reliability`` (a few kills per app, in CI) and ``benchmarks/reliability.py``
(the full suite). Outputs of the killed-and-rerun job are compared with an uninterrupted run's.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from shared.inference import read_outputs


@dataclass
class KillReport:
    """What :func:`kill_until_done` did."""

    kills: int = 0  # SIGKILLs that landed while the job was running
    runs: int = 0  # starts, the finishing one included
    kill_times: list[float] = field(default_factory=list)
    returncode: int | None = None


def watched_run(command: list[str], out: Path, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                timeout: float = 600) -> tuple[float, float]:
    """Run the batch job ``command`` (writing to ``out``) uninterrupted; its wall seconds and the
    median seconds between two shards appearing (the wall time when it writes only one). Raises
    if it fails."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen, shards = [], 0
    while process.poll() is None and time.perf_counter() - start < timeout:
        if (now := _shards_written(out)) != shards:
            shards = now
            seen.append(time.perf_counter())
        time.sleep(0.005)
    _, err = process.communicate(timeout=timeout)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{err[-2000:]}")
    gaps = sorted(b - a for a, b in zip(seen, seen[1:]))
    return wall, gaps[len(gaps) // 2] if gaps else wall


def _shards_written(out: Path) -> int:
    return sum(1 for p in out.glob("shard-*") if not p.name.endswith(".tmp")) if out.is_dir() else 0


def kill_until_done(command: list[str], kills: int, out: Path, total_shards: int, seed: int,
                    jitter: float, env: dict[str, str] | None = None,
                    cwd: str | Path | None = None) -> KillReport:
    """Start the batch job ``command`` (writing to ``out``) and SIGKILL it ``kills`` times, then run
    it to completion.

    Each kill picks, seeded, a shard count between what is already written and the job's
    ``total_shards`` minus one, waits until the job has written that many, then a random
    fraction of ``jitter`` seconds more (pass most of one shard's time), and kills: so kills
    land anywhere from start-up (reading input) to the middle of the last shard. A run
    that finishes before its kill ends the loop early: ``report.kills`` says how many landed.
    """
    rng = random.Random(seed)
    report = KillReport()
    while True:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)
        report.runs += 1
        if report.kills < kills:
            start = time.monotonic()
            target = rng.randint(min(_shards_written(out), total_shards - 1), total_shards - 1)
            extra = rng.uniform(0.0, jitter)
            while process.poll() is None and _shards_written(out) < target:
                time.sleep(0.005)
            time.sleep(extra)
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # the whole group: no child may finish the job
                process.wait()
                report.kills += 1
                report.kill_times.append(time.monotonic() - start)
                continue
        _, err = process.communicate(timeout=600)
        report.returncode = process.returncode
        if process.returncode != 0:
            raise RuntimeError(f"run {report.runs} failed ({process.returncode}): {err[-2000:]}")
        return report


def shard_count(out: Path) -> int:
    """Shards a finished job wrote (the reference run's)."""
    return _shards_written(out)


def compare_outputs(reference: Path, recovered: Path, key: tuple[str, ...] = ("row_id",),
                    ignore: tuple[str, ...] = ()) -> dict:
    """Records lost and duplicated in ``recovered`` against ``reference`` (keyed by ``key``: a row
    id, plus the step for apps writing several records per row), whether the records (less the
    ``ignore`` fields, such as timings) and error rows are identical, and leftover temporaries."""
    ref = [{k: v for k, v in r.items() if k not in ignore} for r in read_outputs(reference)]
    got = [{k: v for k, v in r.items() if k not in ignore} for r in read_outputs(recovered)]
    ref_keys = Counter(tuple(r.get(k) for k in key) for r in ref)
    got_keys = Counter(tuple(r.get(k) for k in key) for r in got)
    lost = sum((ref_keys - got_keys).values())
    duplicated = sum((got_keys - ref_keys).values())  # occurrences beyond the reference's
    leftovers = [p.name for p in recovered.rglob("*.tmp")]
    return {"rows": len(ref), "lost": lost, "duplicated": duplicated,
            "same_records": _canonical(ref) == _canonical(got),
            "same_errors": (reference / "errors.jsonl").read_text() == (recovered / "errors.jsonl").read_text(),
            "tmp_leftovers": leftovers}


def _canonical(records: list[dict]) -> list[str]:
    import json

    return sorted(json.dumps(r, sort_keys=True, default=str) for r in records)
