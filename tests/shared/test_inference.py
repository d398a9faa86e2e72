"""Batch inference runner: shards, resume, atomic outputs, error rows, input resolution."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared.errors import DataError
from shared.inference import InputRow, RowError, read_outputs, resolve_inputs, run_batch_inference

FORMATS = ["parquet", "jsonl"]


def make_rows(n: int) -> list[InputRow]:
    return [InputRow(f"r{i:04d}", payload=i) for i in range(n)]


def double(batch: list[InputRow]) -> list[list[dict]]:
    return [[{"value": row.payload * 2}] for row in batch]


class Counting:
    """A predict fn that records which rows it was called with."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    @property
    def seen(self) -> list[str]:
        return [row_id for call in self.calls for row_id in call]

    def __call__(self, batch: list[InputRow]) -> list[list[dict]]:
        self.calls.append([row.row_id for row in batch])
        return double(batch)


def run(rows, predict, out: Path, **kwargs):
    kwargs = {"shard_size": 5, "batch_size": 2, "progress": False, **kwargs}
    return run_batch_inference(rows, predict, out, **kwargs)


def error_rows(summary) -> list[dict]:
    return [json.loads(line) for line in summary.errors_path.read_text().splitlines()]


@pytest.mark.parametrize("fmt", FORMATS)
def test_happy_path(tmp_path, fmt):
    rows = make_rows(23)
    out = tmp_path / "out"
    summary = run(rows, double, out, fmt=fmt)
    assert (summary.rows, summary.succeeded, summary.errors) == (23, 23, 0)
    assert (summary.written_shards, summary.skipped_shards, summary.exit_code) == (5, 0, 0)
    assert sorted(p.name for p in out.glob("shard-*")) == [f"shard-{k:05d}.{fmt}" for k in range(5)]
    assert read_outputs(out) == [{"row_id": row.row_id, "value": row.payload * 2} for row in rows]
    assert summary.errors_path == out / "errors.jsonl" and summary.errors_path.read_text() == ""
    saved = json.loads((out / "summary.json").read_text())
    assert saved["rows"] == 23 and saved["succeeded"] == 23 and saved["exit_code"] == 0
    assert summary.line().startswith("23 rows: 23 ok, 0 errors, ") and summary.line().endswith(" rows/s")


def test_several_records_per_row_with_different_keys(tmp_path):
    def predict(batch):
        return [[{"step": s, "value": row.payload + s} for s in range(2)] + [{"row_id": row.row_id, "note": "x"}]
                for row in batch]

    run(make_rows(3), predict, tmp_path / "out", fmt="parquet")
    records = read_outputs(tmp_path / "out")
    assert len(records) == 9
    assert records[0] == {"row_id": "r0000", "step": 0, "value": 0, "note": None}
    assert records[2] == {"row_id": "r0000", "step": None, "value": None, "note": "x"}
    assert type(records[4]["value"]) is int  # ints stay ints next to nulls


def test_progress_bar_counts_rows(tmp_path, capsys):
    run(make_rows(7), double, tmp_path / "out", progress=True)
    assert "7/7" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", FORMATS)
def test_resume_after_kill_neither_loses_nor_duplicates(tmp_path, fmt):
    rows = make_rows(20)  # 4 shards of 5
    rows[3].error = "unreadable"
    out = tmp_path / "out"

    def killed(batch):
        if any(row.payload >= 12 for row in batch):  # 2nd batch of the 3rd shard: the job dies mid-shard
            raise KeyboardInterrupt
        return double(batch)

    with pytest.raises(KeyboardInterrupt):
        run(iter(rows), killed, out, fmt=fmt)
    assert sorted(p.name for p in out.glob("shard-*")) == [f"shard-00000.{fmt}", f"shard-00001.{fmt}"]

    counting = Counting()
    summary = run(iter(rows), counting, out, fmt=fmt)
    assert counting.seen == [row.row_id for row in rows[10:]]
    assert (summary.skipped_shards, summary.written_shards) == (2, 2)
    assert (summary.rows, summary.succeeded, summary.errors) == (20, 19, 1)
    assert "2 shards skipped (already done)" in summary.line()

    reference = run(rows, double, tmp_path / "reference", fmt=fmt)
    resumed = read_outputs(out)
    assert resumed == read_outputs(tmp_path / "reference")
    assert [rec["row_id"] for rec in resumed] == [row.row_id for row in rows if row.error is None]
    assert error_rows(summary) == error_rows(reference) == [{"row_id": "r0003", "shard": 0, "reason": "unreadable"}]


def test_stray_tmp_files_are_ignored(tmp_path):
    out = tmp_path / "out"
    (out / "errors").mkdir(parents=True)
    (out / ".shard-00000.parquet.k3j4h5.tmp").write_bytes(b"half a parquet file")
    (out / "shard-00001.parquet.tmp").write_bytes(b"junk")
    (out / "errors" / ".shard-00000.jsonl.a1b2.tmp").write_text('{"row_id": "ghost"}\n')
    assert read_outputs(out) == []

    counting = Counting()
    summary = run(make_rows(10), counting, out)
    assert (summary.skipped_shards, summary.written_shards) == (0, 2)
    assert counting.seen == [row.row_id for row in make_rows(10)]
    assert [rec["row_id"] for rec in read_outputs(out)] == [row.row_id for row in make_rows(10)]
    assert summary.errors_path.read_text() == ""


def test_bad_rows_become_error_rows(tmp_path):
    rows = make_rows(12)  # shard_size 5, batch_size 4
    rows[1].error = "cannot decode\nsecond line of detail"
    counting = Counting()

    def predict(batch):
        counting.calls.append([row.row_id for row in batch])
        if any(row.payload == 7 for row in batch):
            raise ValueError("payload 7 is poison\nTraceback ...")
        if any(row.payload == 9 for row in batch):
            raise RowError("raised for one row")
        return [RowError("too short") if row.payload == 4 else [{"value": row.payload}] for row in batch]

    out = tmp_path / "out"
    summary = run(rows, predict, out, batch_size=4)
    assert error_rows(summary) == [
        {"row_id": "r0001", "shard": 0, "reason": "cannot decode"},
        {"row_id": "r0004", "shard": 0, "reason": "too short"},
        {"row_id": "r0007", "shard": 1, "reason": "internal error: ValueError: payload 7 is poison"},
        {"row_id": "r0009", "shard": 1, "reason": "raised for one row"},
    ]
    assert ["r0001"] not in counting.calls and "r0001" not in counting.seen  # flagged rows never reach predict
    assert ["r0005", "r0006", "r0007", "r0008"] in counting.calls and ["r0007"] in counting.calls  # retried alone
    assert counting.calls.count(["r0009"]) == 1  # a one-row batch is not called twice
    good = [row for row in rows if row.payload not in (1, 4, 7, 9)]
    assert read_outputs(out) == [{"row_id": row.row_id, "value": row.payload} for row in good]
    assert (summary.rows, summary.succeeded, summary.errors, summary.exit_code) == (12, 8, 4, 0)
    assert "4 errors (errors.jsonl)" in summary.line()
    per_shard = [len(path.read_text().splitlines()) for path in sorted((out / "errors").glob("shard-*.jsonl"))]
    assert per_shard == [2, 2, 0]  # each shard's errors are kept next to it, so a skipped shard still knows them


def test_malformed_predict_results_become_error_rows(tmp_path):
    def predict(batch):
        if len(batch) > 1:
            return [[{"value": 1}]]  # too few results: the batch is retried row by row
        return [{"value": 1}] if batch[0].payload == 2 else [[{"value": 1}]]  # a dict, not a list of dicts

    summary = run(make_rows(4), predict, tmp_path / "out", fmt="jsonl")
    assert [(e["row_id"], e["reason"].split(":")[1].strip()) for e in error_rows(summary)] == [("r0002", "TypeError")]
    assert [rec["row_id"] for rec in read_outputs(tmp_path / "out")] == ["r0000", "r0001", "r0003"]


def test_exit_codes(tmp_path):
    def broken(batch):
        raise RuntimeError("model not loaded")

    out = tmp_path / "all-bad"
    summary = run(make_rows(7), broken, out)
    assert (summary.rows, summary.succeeded, summary.errors, summary.exit_code) == (7, 0, 7, 1)
    assert summary.written_shards == 2 and read_outputs(out) == []  # empty shards still count as done
    assert pq.read_schema(out / "shard-00000.parquet").field("row_id").type == pa.string()
    assert {e["reason"] for e in error_rows(summary)} == {"internal error: RuntimeError: model not loaded"}
    again = run(make_rows(7), broken, out)
    assert (again.skipped_shards, again.errors, again.exit_code) == (2, 7, 1)

    empty = run([], double, tmp_path / "empty")
    assert (empty.rows, empty.succeeded, empty.exit_code) == (0, 0, 0)
    assert empty.errors_path.read_text() == "" and (tmp_path / "empty" / "summary.json").exists()


def test_duplicate_row_id_is_an_error_row(tmp_path):
    rows = [InputRow("a", 1), InputRow("b", 2), InputRow("a", 3), InputRow("c", 4), InputRow("c", 5)]
    summary = run(rows, double, tmp_path / "out", shard_size=2, fmt="jsonl")
    assert error_rows(summary) == [{"row_id": "a", "shard": 1, "reason": "duplicate row id"},
                                   {"row_id": "c", "shard": 2, "reason": "duplicate row id"}]
    assert read_outputs(tmp_path / "out") == [{"row_id": "a", "value": 2}, {"row_id": "b", "value": 4},
                                              {"row_id": "c", "value": 8}]
    assert (summary.succeeded, summary.errors) == (3, 2)

    for k in (1, 2):  # resume: ids of the skipped shard 0 still count as seen
        (tmp_path / "out" / f"shard-{k:05d}.jsonl").unlink()
    again = run(rows, double, tmp_path / "out", shard_size=2, fmt="jsonl")
    assert again.skipped_shards == 1 and error_rows(again) == error_rows(summary)
    assert len(read_outputs(tmp_path / "out")) == 3


def test_other_format_in_output_dir_is_refused(tmp_path):
    run(make_rows(3), double, tmp_path / "out", fmt="jsonl")
    with pytest.raises(DataError, match="shard-00000.jsonl"):
        run(make_rows(3), double, tmp_path / "out", fmt="parquet")


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_resolve_inputs_file_and_folder(tmp_path):
    root = tmp_path / "in"
    for name in ["z.dat", "a.DAT", "b/c/m.dat", "b/y.bin", "b/notes.txt", ".hidden.dat", ".cache/x.dat"]:
        touch(root / name)
    assert resolve_inputs(root / "z.dat", (".dat",)) == [root / "z.dat"]
    assert resolve_inputs(root, (".dat", ".bin")) == [root / "a.DAT", root / "b/c/m.dat", root / "b/y.bin",
                                                       root / "z.dat"]
    with pytest.raises(DataError, match="no .wav files"):
        resolve_inputs(root, (".wav",))


def test_resolve_inputs_manifests(tmp_path, monkeypatch):
    monkeypatch.setenv("SEXTANT_ALLOWED_ROOTS", str(tmp_path / "elsewhere"))
    data = tmp_path / "data"
    absolute = touch(tmp_path / "elsewhere" / "abs.dat")
    manifest = data / "manifest.jsonl"
    manifest.parent.mkdir()
    manifest.write_text("\n".join([
        json.dumps({"path": "sub/one.dat"}),
        "",
        json.dumps({"text": "hello", "duration": 1.5, "some_filepath": "two.dat"}),
        json.dumps({"path": str(absolute)}),
    ]) + "\n")
    assert resolve_inputs(manifest, (".dat",)) == [data / "sub/one.dat", data / "two.dat", absolute]

    listing = data / "list.txt"
    listing.write_text("# inputs\nsub/one.dat\n\n  two.dat  \n")
    assert resolve_inputs(listing, (".dat",)) == [data / "sub/one.dat", data / "two.dat"]

    bad = data / "bad.jsonl"
    bad.write_text(json.dumps({"path": "a.dat"}) + "\n" + json.dumps({"path": "a.bin"}) + "\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: no value ending in \.dat"):
        resolve_inputs(bad, (".dat",))


def test_resolve_inputs_missing_or_unknown_path(tmp_path):
    with pytest.raises(DataError, match="input not found") as err:
        resolve_inputs(tmp_path / "nope.dat", (".dat",))
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match="neither"):
        resolve_inputs(touch(tmp_path / "weights.bin"), (".dat",))


def test_module_does_not_import_torch():
    code = "import sys, shared.inference; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2]).returncode == 0


@pytest.mark.parametrize("entry", ["../secret.dat", "/etc/passwd.dat", "sub/../../secret.dat", "link/x.dat"])
def test_manifest_entries_may_not_escape_the_manifest_folder(tmp_path, monkeypatch, entry):
    monkeypatch.delenv("SEXTANT_ALLOWED_ROOTS", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    touch(tmp_path / "secret.dat")
    (data / "link").symlink_to(tmp_path)  # a symlink out of the folder is an escape too
    manifest = data / "m.txt"
    manifest.write_text(f"ok.dat\n{entry}\n")
    with pytest.raises(DataError, match=r"m.txt:2: .* is outside the manifest's folder; add its folder to SEXTANT_ALLOWED_ROOTS"):
        resolve_inputs(manifest, (".dat",))
    monkeypatch.setenv("SEXTANT_ALLOWED_ROOTS", f"/nowhere{os.pathsep}{tmp_path}{os.pathsep}/etc")
    assert len(resolve_inputs(manifest, (".dat",))) == 2  # explicitly allowed
