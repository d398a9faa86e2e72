"""Fault injection: run a command, SIGKILL it at seeded random moments, rerun until it finishes.

Used by ``tests/reliability`` (a few kills per app, in CI) and ``benchmarks/reliability.py``
(the full suite). Outputs of the killed-and-rerun job are compared with an uninterrupted run's.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shared.inference import read_outputs


@dataclass
class KillReport:
    """What :func:`kill_until_done` did."""

    kills: int = 0  # SIGKILLs that landed while the job was running
    runs: int = 0  # starts, the finishing one included
    kill_times: list[float] = field(default_factory=list)  # seconds after the killed run started
    shards_at_kills: list[int] = field(default_factory=list)
    returncode: int | None = None


@dataclass(frozen=True)
class Timeline:
    """When an uninterrupted run wrote its shards: ``shard_times[k]`` is the second shard ``k + 1``
    appeared, counted from the start."""

    wall: float
    shard_times: tuple[float, ...]

    @property
    def shards(self) -> int:
        return len(self.shard_times)

    def shard_seconds(self, k: int) -> float:
        """How long shard ``k + 1`` took to compute once shard ``k`` was written (the median gap
        for the first, whose time also holds the start-up)."""
        gaps = sorted(b - a for a, b in zip(self.shard_times, self.shard_times[1:]))
        median = gaps[len(gaps) // 2] if gaps else self.wall / 2
        return self.shard_times[k] - self.shard_times[k - 1] if 0 < k < self.shards else median

    @property
    def startup(self) -> float:
        """Seconds before the first shard's work starts: importing, loading the model, reading input."""
        return max(0.0, (self.shard_times[0] if self.shard_times else self.wall) - self.shard_seconds(0))


def _shards_written(out: Path) -> int:
    return sum(1 for p in out.glob("shard-*") if not p.name.endswith(".tmp")) if out.is_dir() else 0


class Job:
    """``command`` running in a process group of its own, stdout and stderr going to temporary files
    (not pipes: a chatty job never blocks on them). Leaving the ``with`` block SIGKILLs whatever
    of the group still runs, so no job outlives a failed test."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None):
        self.command = command
        self._out, self._err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self._out, stderr=self._err,
                                        start_new_session=True)
        self.started = time.monotonic()

    def __enter__(self) -> Job:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
        self._out.close()
        self._err.close()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def running(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (no worker may finish the job) and reap it."""
        if self.running():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> None:
        """Poll every 5 ms until ``condition()`` holds or the job ends; raises past ``timeout`` seconds."""
        while self.running() and not condition():
            if self.elapsed() > timeout:
                raise TimeoutError(f"{' '.join(self.command[:4])} ...: still waiting after {timeout:.0f} s")
            time.sleep(0.005)

    def finish(self, timeout: float) -> str:
        """Wait for the job to end; its stdout. Raises with the end of its stderr if it failed."""
        try:
            self.process.wait(timeout=max(1.0, timeout - self.elapsed()))
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{' '.join(self.command[:4])} ...: ran past {timeout:.0f} s") from None
        if self.process.returncode != 0:
            self._err.seek(0)
            raise RuntimeError(f"{' '.join(self.command)} failed ({self.process.returncode}):\n{self._err.read()[-2000:]}")
        self._out.seek(0)
        return self._out.read()


def watch(command: list[str], progress: Callable[[], int], env: dict[str, str] | None = None,
          cwd: str | Path | None = None, timeout: float = 600) -> tuple[float, list[tuple[float, int]], str]:
    """Run ``command`` to the end, noting (seconds since start, value) whenever ``progress()``
    changes; the wall seconds, those changes and the job's stdout. Raises if it fails."""
    changes: list[tuple[float, int]] = []
    with Job(command, env, cwd) as job:
        value = progress()

        def moved() -> bool:
            nonlocal value
            if (now := progress()) != value:
                value = now
                changes.append((job.elapsed(), now))
            return False

        job.wait_until(moved, timeout)
        stdout = job.finish(timeout)
        return job.elapsed(), changes, stdout


def watched_run(command: list[str], out: Path, env: dict[str, str] | None = None, cwd: str | Path | None = None,
                timeout: float = 600) -> Timeline:
    """Run the batch job ``command`` (writing to ``out``) uninterrupted and note when each shard
    appeared. Raises if it fails or runs past ``timeout``."""
    wall, changes, _ = watch(command, lambda: _shards_written(out), env, cwd, timeout)
    seen: list[float] = []
    for at, shards in changes:  # two shards can appear within one 5 ms poll
        seen += [at] * (shards - len(seen))
    seen += [wall] * (_shards_written(out) - len(seen))  # shards written in its last 5 ms
    return Timeline(wall, tuple(seen))


def kill_until_done(command: list[str], kills: int, out: Path, timeline: Timeline, seed: int,
                    env: dict[str, str] | None = None, cwd: str | Path | None = None,
                    timeout: float = 600) -> KillReport:
    """Start the batch job ``command`` (writing to ``out``) and SIGKILL it ``kills`` times, then run
    it to completion; ``timeline`` is an uninterrupted run's.

    Each kill picks, seeded, a shard count between what is already written and the job's last
    shard. When that is more than what is written, the kill waits until that many shards exist,
    then up to 90% of the next shard's measured time: it lands while that shard is computed.
    When it is what is written (a restart with nothing new to wait for), a quarter of the kills
    land during start-up, the rest during the first shard computed after it. So kills spread
    from start-up to the last shard, and never come after the end.
    """
    rng = random.Random(seed)
    report = KillReport()
    last = timeline.shards - 1
    while True:
        with Job(command, env, cwd) as job:
            report.runs += 1
            if report.kills < kills:
                written = _shards_written(out)
                target = rng.randint(min(written, last), last)
                if target > written:
                    job.wait_until(lambda: _shards_written(out) >= target, timeout)
                    delay = rng.uniform(0.0, 0.9 * timeline.shard_seconds(target))
                elif rng.random() < 0.25:
                    delay = rng.uniform(0.0, timeline.startup)
                else:
                    delay = timeline.startup + rng.uniform(0.0, 0.9 * timeline.shard_seconds(target))
                time.sleep(delay)
                if job.running():
                    report.kill_times.append(job.elapsed())
                    job.kill()
                    report.kills += 1
                    report.shards_at_kills.append(_shards_written(out))
                    continue
            job.finish(timeout)
            report.returncode = job.process.returncode
            return report


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
