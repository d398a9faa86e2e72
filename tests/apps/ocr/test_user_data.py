"""The user's own line images: TSV and JSONL files, one file split by a seeded (writer-aware) rule or a
folder of split files, and a prepared folder keyed on the files."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from apps.ocr.app import APP, main
from apps.ocr.data import load_split, read_rows, split_lines, user_files
from shared.errors import DataError


def _png(path: Path) -> str:
    from apps.ocr.images import write_png

    write_png(path, np.full((20, 60), 230, np.uint8))
    return path.name


def _tsv(folder: Path, writers: int = 5, per_writer: int = 4, header: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["image\ttext\twriter"] if header else []
    for w in range(writers):
        for i in range(per_writer):
            name = _png(folder / f"w{w}-{i}.png")
            lines.append(f"{name}\tline {i} by w{w}" + (f"\tw{w}" if header else ""))
    (folder / "lines.tsv").write_text("\n".join(lines) + "\n")
    return folder / "lines.tsv"


def test_tsv_with_and_without_a_header_and_jsonl(tmp_path):
    rows = read_rows(_tsv(tmp_path / "a", 2, 2))
    assert [(r.text, r.writer, r.group) for r in rows[:2]] == [("line 0 by w0", "w0", "all"), ("line 1 by w0", "w0", "all")]
    assert all(Path(r.image).is_absolute() and Path(r.image).is_file() for r in rows)
    plain = read_rows(_tsv(tmp_path / "b", 1, 2, header=False))
    assert [r.writer for r in plain] == [None, None] and plain[0].text == "line 0 by w0"
    (tmp_path / "b" / "tabs.tsv").write_text(f"{plain[0].image}\ttext\twith a tab\n")
    assert read_rows(tmp_path / "b" / "tabs.tsv")[0].text == "text\twith a tab"  # no header: the rest is text
    jsonl = tmp_path / "b" / "lines.jsonl"
    jsonl.write_text(json.dumps({"image": "w0-0.png", "text": "hi", "group": "forms"}) + "\n"
                     + json.dumps({"path": "w0-1.png", "text": "yo", "writer": "ann"}) + "\n")
    rows = read_rows(jsonl)
    assert [(r.text, r.writer, r.group) for r in rows] == [("hi", "forms", "forms"), ("yo", "ann", "all")]


def test_malformed_files_are_one_line_errors(tmp_path):
    (tmp_path / "bad.tsv").write_text("image\ttext\tpage\nx.png\thi\t3\n")
    with pytest.raises(DataError, match="expected the columns image"):
        read_rows(tmp_path / "bad.tsv")
    (tmp_path / "short.tsv").write_text("image\ttext\twriter\nx.png\thi\n")
    with pytest.raises(DataError, match=r"short.tsv:2: expected 3 tab-separated columns"):
        read_rows(tmp_path / "short.tsv")
    (tmp_path / "bad.jsonl").write_text('{"image": "x.png"}\n')
    with pytest.raises(DataError, match="bad.jsonl:1: each row needs a text"):
        read_rows(tmp_path / "bad.jsonl")
    (tmp_path / "lines.csv").write_text("x.png,hi\n")
    with pytest.raises(DataError, match="expected a .tsv"):
        user_files(tmp_path / "lines.csv")


def test_one_file_is_split_by_writer_with_a_seed(tmp_path):
    rows = read_rows(_tsv(tmp_path, writers=10, per_writer=3))
    splits, rule = split_lines(rows, 0.1, 0.2, seed=0, name="lines.tsv")
    sides = {s: {r.writer for r in splits[s]} for s in splits}
    assert not sides["train"] & sides["valid"] and not sides["train"] & sides["test"] and not sides["valid"] & sides["test"]
    assert len(splits["test"]) == 6 and len(splits["valid"]) == 3 and len(splits["train"]) == 21
    assert "split by writer" in rule and "data.split_seed=0" in rule and "20%" in rule
    again, _ = split_lines(rows, 0.1, 0.2, seed=0)
    other, _ = split_lines(rows, 0.1, 0.2, seed=1)
    assert again == splits and other != splits
    with pytest.raises(DataError, match="2 writers; a split into train, valid and test needs at least 3"):
        split_lines(rows[:6], 0.1, 0.1, 0)


def test_without_writers_whole_lines_are_split_and_a_repeated_image_stays_on_one_side(tmp_path):
    rows = read_rows(_tsv(tmp_path, writers=10, per_writer=2, header=False))
    rows += [rows[0]] * 3  # the same image listed again
    splits, rule = split_lines(rows, 0.1, 0.1, seed=3)
    assert "split by line" in rule and sum(len(v) for v in splits.values()) == len(rows)
    assert sum(rows[0].image in {r.image for r in part} for part in splits.values()) == 1


def test_a_folder_names_its_splits(tmp_path):
    folder = tmp_path / "splits"
    folder.mkdir()
    for split in ("train", "valid"):
        (folder / f"{split}.tsv").write_text("a.png\thi\n")
    with pytest.raises(DataError, match="no test.tsv/.jsonl"):
        user_files(folder)
    (folder / "test.jsonl").write_text('{"image": "a.png", "text": "hi"}\n')
    assert user_files(folder) == {s: str(folder / f"{s}.{'jsonl' if s == 'test' else 'tsv'}") for s in ("train", "valid", "test")}
    (folder / "test.tsv").write_text("a.png\thi\n")
    with pytest.raises(DataError, match="both test.tsv and test.jsonl|both test.jsonl and test.tsv"):
        user_files(folder)


def test_prepare_from_one_file_and_the_folder_follows_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    tsv = _tsv(tmp_path / "mine", writers=6, per_writer=3)
    assert main(["prepare", "--config", "tiny", "--data", "mine/lines.tsv"]) == 0
    out = capsys.readouterr().out
    assert "18 lines prepared in data/cache/ocr/lines-" in out and "split by writer" in out
    assert "writers on two sides: 0" in out
    cfg = APP.with_data(APP.load_config("tiny"), "mine/lines.tsv")
    folder = APP.prepared_dir(cfg)
    assert cfg.data.lines == {"all": str(tsv)} and APP.is_prepared(cfg, folder)
    assert sum(len(load_split(folder, s)) for s in ("train", "valid", "test")) == 18
    assert APP.prepared_dir(APP.with_data(APP.load_config("tiny", ["data.split_seed=1"]), "mine/lines.tsv")) != folder
    assert APP.registry_name(cfg) == "ocr-lines"
    tsv.write_text(tsv.read_text() + "w0-0.png\tone more\tw9\n")
    os.utime(tsv, ns=(1, 1))
    assert APP.prepared_dir(cfg) != folder  # a changed file is prepared again


def test_data_outside_the_working_directory_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SEXTANT_ALLOWED_ROOTS")
    _tsv(tmp_path / "elsewhere", 3, 1)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(DataError, match="outside the working directory"):
        APP.with_data(APP.load_config("tiny"), str(tmp_path / "elsewhere" / "lines.tsv"))
