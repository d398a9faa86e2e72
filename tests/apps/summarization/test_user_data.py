"""Your own pairs: reading JSONL, the seeded split of one file, a folder of splits, and the App on them."""

import json
import os

import pytest

from apps.summarization.app import APP
from apps.summarization.data import SummaryPair, read_pairs, split_pairs, user_splits
from shared.errors import ConfigError, DataError


def test_read_pairs_accepts_your_jsonl_and_folders(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"document": "d1", "summary": "s1"}\n{"document": "d2"}\n')
    assert [p.summary for p in read_pairs(tmp_path / "p.jsonl")] == ["s1", None]
    with pytest.raises(DataError, match="no summary"):
        read_pairs(tmp_path / "p.jsonl", need_summary=True)
    (tmp_path / "bad.jsonl").write_text('{"document": 3}\n')
    with pytest.raises(DataError, match="bad.jsonl:1"):
        read_pairs(tmp_path / "bad.jsonl")
    (tmp_path / "latin.jsonl").write_bytes(b'{"document": "caf\xe9", "summary": "x"}\n')
    with pytest.raises(DataError, match="not UTF-8"):
        read_pairs(tmp_path / "latin.jsonl")


def _pairs(n: int) -> list[SummaryPair]:
    return [SummaryPair(str(i), f"Document number {i % (n - 5)} about things.", f"summary {i}") for i in range(n)]


def test_split_is_seeded_by_document_and_keeps_duplicates_on_one_side():
    pairs = _pairs(100)  # documents 0-4 appear twice
    splits = split_pairs(pairs, {"test": 0.1, "valid": 0.1}, seed=0)
    assert sum(len(v) for v in splits.values()) == 100
    assert 10 <= len(splits["test"]) <= 11 and 10 <= len(splits["valid"]) <= 11  # a duplicate may overshoot by one
    sides = {}
    for name, members in splits.items():
        for p in members:
            assert sides.setdefault(p.document, name) == name  # a document never straddles two splits
        assert [int(p.id) for p in members] == sorted(int(p.id) for p in members)  # file order kept
    assert split_pairs(list(reversed(pairs)), {"test": 0.1, "valid": 0.1}, seed=0)["test"] != []
    same = split_pairs(list(reversed(pairs)), {"test": 0.1, "valid": 0.1}, seed=0)
    assert {p.id for p in same["test"]} == {p.id for p in splits["test"]}  # the order of the file does not matter
    other = split_pairs(pairs, {"test": 0.1, "valid": 0.1}, seed=1)
    assert {p.id for p in other["test"]} != {p.id for p in splits["test"]}
    with pytest.raises(DataError, match="nothing left to train on"):
        split_pairs(pairs[:2], {"test": 0.1, "valid": 0.1})


def _write(path, pairs):
    path.write_text("".join(json.dumps({"id": p.id, "document": p.document, "summary": p.summary}) + "\n"
                            for p in pairs))
    return path


def test_with_data_reads_one_file_or_a_folder_of_splits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one = _write(tmp_path / "pairs.jsonl", _pairs(50))
    cfg = APP.with_data(APP.load_config("tiny"), str(one))
    assert cfg.data.dataset == "pairs" and cfg.data.pairs == {"train": str(one)}
    assert cfg.data.transfer() == [] and APP.load_config("tiny").data.transfer() == ["abstracts", "wikipedia"]
    opted = APP.with_data(APP.load_config("tiny", ["data.transfer_sets=[abstracts]"]), str(one))
    assert opted.data.transfer() == ["abstracts"]  # scored on yours too when asked
    splits = user_splits(cfg.data)
    assert {k: len(v) for k, v in splits.items()} == {"train": 40, "valid": 5, "test": 5}
    assert APP.registry_name(cfg) == "summarization-pairs"

    folder = tmp_path / "mine"
    folder.mkdir()
    _write(folder / "train.jsonl", _pairs(30))
    _write(folder / "test.jsonl", [SummaryPair("t", "A test document.", "test")])
    cfg = APP.with_data(APP.load_config("tiny"), str(folder))
    assert set(cfg.data.pairs) == {"train", "test"}
    splits = user_splits(cfg.data)  # valid is cut from train; test is the file's
    assert [p.id for p in splits["test"]] == ["t"] and 3 <= len(splits["valid"]) <= 4
    assert len(splits["valid"]) + len(splits["train"]) == 30

    with pytest.raises(DataError, match="no train.jsonl"):
        APP.with_data(APP.load_config("tiny"), str(tmp_path))
    (tmp_path / "x.csv").write_text("document,summary\n")
    with pytest.raises(DataError, match="expected a .jsonl file"):
        APP.with_data(APP.load_config("tiny"), str(tmp_path / "x.csv"))
    with pytest.raises(DataError, match="not found"):
        APP.with_data(APP.load_config("tiny"), "missing.jsonl")
    with pytest.raises(DataError, match="outside the working directory"):
        monkeypatch.delenv("SEXTANT_ALLOWED_ROOTS", raising=False)
        APP.with_data(APP.load_config("tiny"), "../elsewhere/p.jsonl")
    alone = APP.load_config("tiny", ["data.dataset=pairs"])  # enough to name the registry model (batch flow)
    assert APP.registry_name(alone) == "summarization-pairs"
    with pytest.raises(DataError, match="needs data.pairs.train"):
        APP.prepare(alone, tmp_path / "prepared")
    with pytest.raises(ConfigError, match="unknown split"):
        APP.load_config("tiny", ["data.pairs.extra=x.jsonl"])


def test_prepared_folder_follows_your_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one = _write(tmp_path / "pairs.jsonl", _pairs(50))
    cfg = APP.with_data(APP.load_config("tiny"), str(one))
    first = APP.prepared_dir(cfg)
    assert first.name.startswith("user-") and first == APP.prepared_dir(cfg)
    _write(one, _pairs(60))
    os.utime(one, ns=(1, 1))
    assert APP.prepared_dir(cfg) != first  # a changed file is prepared again
    assert APP.prepared_dir(APP.load_config("tiny")).name.startswith("debian-")


def test_prepare_validate_and_split_rule_on_your_pairs(tmp_path, monkeypatch):
    from shared.given_data import shared_data_dir

    monkeypatch.chdir(tmp_path)
    sample = APP.sample_files(tmp_path / "mine")
    assert shared_data_dir()  # the sample comes from the given Debian pairs
    cfg = APP.with_data(APP.load_config("tiny"), sample.data)
    data = APP.prepare(cfg, APP.prepared_dir(cfg))
    report = APP.validate(cfg, data)
    assert report.items == 300 and 30 <= report.splits["test"] <= 32 and 30 <= report.splits["valid"] <= 32
    assert "seeded hash" in report.details["held out"] and "10%" in report.details["held out"]
    pretrain = [json.loads(line) for line in (data / "pretrain.jsonl").read_text().splitlines()]
    train_docs = " ".join(p.document for p in read_pairs(data / "train.jsonl"))
    assert pretrain and all(p[0].split()[0] in train_docs for p in pretrain[:20])  # your training documents
