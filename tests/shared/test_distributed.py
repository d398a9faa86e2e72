"""Data-parallel training under torchrun: 2 CPU processes (gloo) against one process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

pytestmark = pytest.mark.integration  # torchrun starts several processes

from shared.distributed import without_option

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "shared" / "ddp_train.py"
# Two ranks sum the same gradients in a different order than one process does, so the curves
# agree to float32 rounding (measured: 1e-7 relative at worst over 24 Adam steps).
LOSS_RTOL = 1e-5


def _run(out: Path, nproc: int, *extra: str) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if nproc == 1:
        command = [sys.executable, str(SCRIPT), str(out), *extra]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                   str(SCRIPT), str(out), *extra]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300).returncode


def _losses(out: Path) -> list[float]:
    return [h["train_loss"] for h in json.loads((out / "history.json").read_text())["history"]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    assert _run(root / "single", 1) == 0
    assert _run(root / "ddp", 2) == 0
    return root


def test_two_ranks_end_with_identical_weights(runs):
    a, b = load_file(str(runs / "ddp" / "rank-0.safetensors")), load_file(str(runs / "ddp" / "rank-1.safetensors"))
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a)


def test_loss_curve_matches_one_process_with_the_same_global_batch(runs):
    single, ddp = _losses(runs / "single"), _losses(runs / "ddp")
    assert len(single) == len(ddp) == 6
    assert single[-1] < 0.8 * single[0]  # it learned something, so matching curves mean something
    assert ddp == pytest.approx(single, rel=LOSS_RTOL)
    assert json.loads((runs / "ddp" / "history.json").read_text())["world"] == 2


def test_only_rank_zero_checkpoints(runs):
    steps = sorted(p.name for p in (runs / "ddp" / "run" / "checkpoints").iterdir())
    assert steps and all(name.startswith("step-") for name in steps)  # no per-rank or temporary leftovers


def test_killed_two_rank_run_resumes_to_the_same_weights(runs, tmp_path):
    assert _run(tmp_path, 2, "--die-at", "10") != 0
    assert os.path.basename(os.readlink(tmp_path / "run" / "last")) == "step-00000008"
    assert _run(tmp_path, 2, "--resume") == 0
    resumed, full = load_file(str(tmp_path / "rank-0.safetensors")), load_file(str(runs / "ddp" / "rank-0.safetensors"))
    assert all(resumed[k].allclose(full[k], atol=1e-6) for k in full)
    assert _losses(tmp_path)[-1] == pytest.approx(_losses(runs / "ddp")[-1], rel=1e-6)


def test_without_option_drops_nproc_in_both_spellings():
    assert without_option(["train", "--nproc", "2", "--run", "r"], "--nproc") == ["train", "--run", "r"]
    assert without_option(["train", "--nproc=2"], "--nproc") == ["train"]
