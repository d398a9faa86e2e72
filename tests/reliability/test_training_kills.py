"""SIGKILL a training run, then ``--resume``: same step count and the same final metrics as an
uninterrupted run; a half-written checkpoint is never loaded."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Resume restores weights, optimizer, RNG and batch position exactly, so on the same machine and
# thread count the curves agree to the last bit; the tolerance only absorbs float summation order.
METRIC_RTOL = 1e-6


def _train(run: Path, data: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "apps.forecasting.cli", "train", "--config", "tiny", "--data", str(data),
            "--run", str(run), "--set", "train.max_steps=300", "train.eval_every=50", "train.checkpoint_every=10",
            *extra]


def _kill_after_checkpoint(command: list[str], run: Path, min_step: int) -> int:
    """Start ``command`` and SIGKILL it once ``run/last`` points at a step >= ``min_step``; returns that step."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        last = run / "last"
        if last.is_symlink() and int(os.readlink(last).rsplit("-", 1)[1]) >= min_step:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return int(os.readlink(last).rsplit("-", 1)[1])
        time.sleep(0.01)
    pytest.fail("the run finished or stalled before it could be killed")


def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    data = tmp_path / "data"
    full = subprocess.run(_train(tmp_path / "full", data), cwd=ROOT, env=env, capture_output=True, text=True)
    assert full.returncode == 0, full.stderr[-2000:]
    expected = json.loads(full.stdout[full.stdout.index("{"):])

    run = tmp_path / "cut"
    killed_at = _kill_after_checkpoint(_train(run, data), run, min_step=120)
    assert killed_at < 300
    # A checkpoint the kill interrupted is a hidden temporary: it is never what `last` points at.
    assert all(not p.name.startswith("step-") or (p / "trainer_state.json").is_file()
               for p in (run / "checkpoints").iterdir())
    resumed = subprocess.run(_train(run, data, "--resume"), cwd=ROOT, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads(resumed.stdout[resumed.stdout.index("{"):])
    assert result["steps"] == expected["steps"] == 300
    assert result["val_mase"] == pytest.approx(expected["val_mase"], rel=METRIC_RTOL)
