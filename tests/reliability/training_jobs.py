"""Training runs SIGKILLed mid-run and resumed with ``--resume``: one definition for
``tests/reliability/test_training_kills.py`` (CI) and ``benchmarks/reliability.py``.

Each app's ``train`` CLI runs its ``tiny`` config, lengthened to ``steps`` steps with a
checkpoint every few steps, on the data its tiny model was prepared from. One run goes
uninterrupted. Another is killed ``kills`` times, each kill landing a seeded moment after a
seeded checkpoint (up to a little past the next one, so some land while a checkpoint is being
written or pruned) and restarted with ``--resume``, until it finishes. Both must end at the same step with
the same validation metric (``METRIC_RTOL``), and no half-written checkpoint may be left where a
resume could load it.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.reliability.faults import Job, watch
from tests.reliability.tiny_models import tiny_model

ROOT = Path(__file__).resolve().parents[2]
# Resume restores weights, optimizer, RNG states and the position in the epoch's batch order, so
# on the same machine and thread count the curves agree to the last bit; the tolerance only
# absorbs float summation order.
METRIC_RTOL = 1e-6
CHECKPOINT_FILES = ("model.safetensors", "optimizer.pt", "trainer_state.json")
TIMEOUT = 900  # seconds any one training process may take


def _env() -> dict[str, str]:
    """The caller's environment as it is now (SEXTANT_ALLOWED_ROOTS included), on one thread."""
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class TrainJob:
    app: str
    steps: int = 60
    checkpoint_every: int = 5
    metric: str = "best_metric"  # the key of the printed result compared between the runs

    def command(self, run: Path, models: Path, resume: bool = False) -> list[str]:
        data = tiny_model(self.app, models).data
        return [sys.executable, "-m", "shared.cli", self.app, "train", "--config", "tiny", "--prepared", str(data),
                "--run", str(run), "--set", f"train.max_steps={self.steps}", f"train.eval_every={self.steps // 3}",
                f"train.checkpoint_every={self.checkpoint_every}", *(["--resume"] if resume else [])]


TRAIN_JOBS = [
    TrainJob("forecasting"),
    TrainJob("molecules"),
    TrainJob("vision", steps=120, checkpoint_every=10),
    TrainJob("speech-asr", steps=120, checkpoint_every=10),
    TrainJob("ocr", steps=120, checkpoint_every=10),
    TrainJob("summarization", steps=120, checkpoint_every=10),
]


def _result(stdout: str) -> dict:
    return json.loads(stdout[stdout.index("{"):])


def _last_step(run: Path) -> int:
    last = run / "last"
    return int(os.readlink(last).rsplit("-", 1)[1]) if last.is_symlink() else 0


def _complete_checkpoints(run: Path) -> bool:
    """What a resume would load is whole: ``last`` (when there is one yet) and every visible
    ``step-*`` folder hold all checkpoint files. A checkpoint a kill interrupts is a hidden
    temporary, and one being pruned is renamed to a hidden name before it is deleted."""
    folder = run / "checkpoints"
    steps = [p for p in folder.iterdir() if p.name.startswith("step-")] if folder.is_dir() else []
    last = [run / "last"] if (run / "last").is_symlink() else []
    return all((p / name).is_file() for p in steps + last for name in CHECKPOINT_FILES)


def _run_uninterrupted(command: list[str], run: Path) -> tuple[dict, float, float]:
    """The printed result, the wall seconds and the median seconds between checkpoints."""
    wall, changes, stdout = watch(command, lambda: _last_step(run), env=_env(), cwd=ROOT, timeout=TIMEOUT)
    gaps = sorted(b[0] - a[0] for a, b in zip(changes, changes[1:]))
    return _result(stdout), wall, gaps[len(gaps) // 2] if gaps else 0.5


def _max_weight_difference(a: Path, b: Path) -> float:
    from safetensors.numpy import load_file

    left, right = load_file(a / "last" / "model.safetensors"), load_file(b / "last" / "model.safetensors")
    if left.keys() != right.keys():
        return float("inf")
    return max(float(abs(left[k].astype("float64") - right[k].astype("float64")).max(initial=0.0)) for k in left)


def kill_and_resume(job: TrainJob, work: Path, models: Path, kills: int, seed: int) -> dict:
    """Train ``job`` uninterrupted, then killed ``kills`` times and resumed; the comparison."""
    expected, wall, interval = _run_uninterrupted(job.command(work / "full", models), work / "full")
    rng, run = random.Random(seed), work / "cut"
    # Kill i comes once the run has checkpointed step targets[i] (0: during start-up), drawn up
    # front and sorted so kills spread over the run; a repeated target kills a resume as it starts.
    targets = sorted(rng.choices(range(0, job.steps, job.checkpoint_every), k=kills))
    landed, runs, whole, kill_steps = 0, 0, True, []
    while True:
        with Job(job.command(run, models, resume=runs > 0), env=_env(), cwd=ROOT) as attempt:
            runs += 1
            if landed < kills:
                attempt.wait_until(lambda: _last_step(run) >= targets[landed], TIMEOUT)
                # Up to a little past the next checkpoint, so some kills land while it is written; after
                # the last checkpoint before the end, only most of the way, so the kill never comes after
                # the end.
                last = targets[landed] >= job.steps - job.checkpoint_every
                time.sleep(rng.uniform(0.0, (0.8 if last else 1.2) * interval))
                if attempt.running():
                    attempt.kill()
                    landed += 1
                    kill_steps.append(_last_step(run))
                    whole = whole and _complete_checkpoints(run)
                    continue
            got = _result(attempt.finish(TIMEOUT))
            break
    same_metric = abs(got[job.metric] - expected[job.metric]) <= METRIC_RTOL * max(abs(expected[job.metric]), 1e-12)
    return {"app": job.app, "kills": landed, "runs": runs, "last_checkpoint_at_kills": kill_steps,
            "steps": got["steps"], "expected_steps": expected["steps"], "metric": job.metric,
            "value": got[job.metric], "expected_value": expected[job.metric], "same_metric": same_metric,
            "max_weight_difference": _max_weight_difference(work / "full", run),
            "checkpoints_whole": whole and _complete_checkpoints(run), "seconds_uninterrupted": wall,
            "seconds_per_checkpoint": interval}
