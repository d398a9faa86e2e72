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


def timed_run(command: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None,
              timeout: float = 600) -> float:
    """Wall seconds of one uninterrupted run; raises if it fails. Running it again on its finished
    output measures the start-up alone (every shard is skipped)."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def kill_until_done(command: list[str], kills: int, startup: float, work: float, seed: int,
                    env: dict[str, str] | None = None, cwd: str | Path | None = None) -> KillReport:
    """Start ``command`` and SIGKILL it ``kills`` times, then run it to completion.

    ``startup`` is the seconds a run spends before doing work (a rerun of a finished job) and
    ``work`` the seconds of work in an uninterrupted run. Each kill lands at a seeded random
    moment between 20% and 75% of the expected length of that run (start-up plus the work
    still left: a resumed run skips what earlier runs finished). A run that finishes before
    its kill ends the test early: ``report.kills`` says how many landed.
    """
    rng = random.Random(seed)
    report = KillReport()
    left = work
    while True:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)
        report.runs += 1
        if report.kills < kills:
            moment = rng.uniform(0.2, 0.75) * (startup + left)  # anywhere in the run: reading input included
            try:
                process.wait(timeout=moment)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the whole group: no child may finish the job
                process.wait()
                report.kills += 1
                report.kill_times.append(moment)
                left -= max(0.0, moment - startup)  # the work this run may have finished
                continue
        _, err = process.communicate(timeout=600)
        report.returncode = process.returncode
        if process.returncode != 0:
            raise RuntimeError(f"run {report.runs} failed ({process.returncode}): {err[-2000:]}")
        return report


def compare_outputs(reference: Path, recovered: Path, key: tuple[str, ...] = ("row_id",)) -> dict:
    """Records lost and duplicated in ``recovered`` against ``reference`` (keyed by ``key``: a row
    id, plus the step for apps writing several records per row), whether the records and error
    rows are identical, and leftover temporaries."""
    ref = read_outputs(reference)
    got = read_outputs(recovered)
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
