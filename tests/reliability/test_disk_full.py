"""A full disk during a write: a clear error, no corrupt output left, and a rerun that completes."""

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shared import atomic
from shared.inference import read_outputs
from tests.reliability import slow_batch

ROOT = Path(__file__).resolve().parents[2]


class _FullDisk:
    """Wraps ``os.fdopen`` so that the ``after``-th file written raises ENOSPC halfway through."""

    def __init__(self, after: int):
        self.after, self.opened = after, 0
        self.real = os.fdopen

    def __call__(self, fd, *args, **kwargs):
        handle = self.real(fd, *args, **kwargs)
        self.opened += 1
        if self.opened < self.after:
            return handle
        real_write = handle.write

        def write(data):
            real_write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        handle.write = write
        return handle


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    atomic.atomic_write_text(target, "old")
    monkeypatch.setattr(atomic.os, "fdopen", _FullDisk(after=1))
    with pytest.raises(OSError, match="No space left"):
        atomic.atomic_write_text(target, "new content " * 1000)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_batch_job_on_a_full_disk_fails_cleanly_and_resumes(tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setattr(atomic.os, "fdopen", _FullDisk(after=7))  # a few shards in, the disk fills up
    with pytest.raises(OSError, match="No space left"):
        slow_batch.run_batch_inference(slow_batch.rows(120), slow_batch.predict, out, shard_size=16, batch_size=4,
                                       progress=False)
    partial = read_outputs(out)  # only complete shards are readable
    assert partial and len({r["row_id"] for r in partial}) == len(partial)
    assert not list(out.rglob("*.tmp"))
    monkeypatch.undo()  # space freed: the rerun finishes the job
    slow_batch.run_batch_inference(slow_batch.rows(120), slow_batch.predict, out, shard_size=16, batch_size=4,
                                   progress=False)
    reference = tmp_path / "reference"
    slow_batch.run_batch_inference(slow_batch.rows(120), slow_batch.predict, reference, shard_size=16, batch_size=4,
                                   progress=False)
    assert read_outputs(out) == read_outputs(reference)
    assert (out / "errors.jsonl").read_text() == (reference / "errors.jsonl").read_text()


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a tmpfs needs root")
def test_cli_on_a_real_full_tmpfs_prints_one_line(tmp_path):
    import pandas as pd

    from apps.forecasting.app import APP

    cfg = APP.load_config("tiny")
    model = APP.train(cfg, APP.prepare(cfg, tmp_path / "data"), tmp_path / "train").model_dir
    base = pd.read_parquet(tmp_path / "data" / "airpassengers.parquet")
    pd.concat([base.assign(unique_id=f"s{i:04d}") for i in range(1500)]).to_csv(tmp_path / "panel.csv", index=False)
    disk = tmp_path / "small"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("tmpfs mount not permitted here")
    try:
        job = subprocess.run([sys.executable, "-m", "shared.cli", "forecasting", "predict", str(tmp_path / "panel.csv"),
                              "--model", model, "--out", str(disk / "out")],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert job.returncode == 2
        lines = job.stderr.strip().splitlines()  # progress bar lines, then the error
        assert lines[-1] == "error: [Errno 28] No space left on device" and "Traceback" not in job.stderr, lines
        written = read_outputs(disk / "out")  # whatever is there reads as complete shards
        assert len(written) % 6 == 0 and not list((disk / "out").rglob("*.tmp"))
    finally:
        subprocess.run(["umount", str(disk)], check=False)
