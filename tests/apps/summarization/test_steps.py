"""Prepare, validate, pretrain, fine-tune, evaluate and batch-summarize on the tiny config."""

import json
from pathlib import Path

import pytest

from apps.summarization import steps
from apps.summarization.batch import document_rows
from apps.summarization.cli import main
from apps.summarization.data import debian_splits, read_pairs
from apps.summarization.summarize import Summarizer
from shared.errors import DataError
from shared.given_data import shared_data_dir
from shared.inference import read_outputs
from shared.tokenizers import load_tokenizer


def test_debian_split_keeps_package_groups_apart():
    splits = debian_splits(shared_data_dir(), valid=50, test=50, max_rows=3000)
    first = {s: {" ".join(p.document.lower().split()[:6]) for p in pairs} for s, pairs in splits.items()}
    names = {s: {p.id for p in pairs} for s, pairs in splits.items()}
    assert len(splits["test"]) >= 50 and len(splits["train"]) > 2500
    assert not names["train"] & names["test"] and not names["train"] & names["valid"]
    # the same opening sentence (libfoo1 / libfoo-dev / libfoo-doc) never straddles train and test
    opening = {s: {p.document.split(".")[0].lower().strip() for p in pairs} for s, pairs in splits.items()}
    assert not opening["train"] & opening["test"]
    assert first["test"]


def test_prepare_writes_sets_and_tokenizer(tiny_summ):
    data = Path(tiny_summ["data"])
    spec = json.loads((data / "dataset.json").read_text())
    # whole package groups go to a split, so a split may overshoot its size by one group
    assert 16 <= spec["splits"]["valid"] < 40 and 16 <= spec["splits"]["test"] < 40 and spec["splits"]["train"] > 500
    assert spec["transfer_sets"]["abstracts"] == 305 and spec["transfer_sets"]["wikipedia"] >= 50
    tokenizer = load_tokenizer(data / "tokenizer.json")
    assert tokenizer.encode("<mask_1>") == [4]  # the mask is one token, right after the shared specials
    report = steps.validate_data(tiny_summ["cfg"], tiny_summ["data"])
    assert report["pairs"]["test"] == spec["splits"]["test"]


def test_validate_refuses_a_test_document_that_is_trained_on(tiny_summ, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(tiny_summ["data"], data)
    train = (data / "train.jsonl").read_text().splitlines()
    (data / "test.jsonl").write_text("\n".join(train[:1] + (data / "test.jsonl").read_text().splitlines()) + "\n")
    with pytest.raises(DataError, match="also a training document"):
        steps.validate_data(tiny_summ["cfg"], data)


def test_pretrain_then_finetune_make_loadable_models(tiny_summ):
    assert tiny_summ["pretrained"]["steps"] == 3
    summarizer = Summarizer.from_folder(tiny_summ["model"])
    found = summarizer.summarize(["A short document about a library for parsing XML files in Python.", "x " * 500])
    assert len(found) == 2 and found[1].chunks == 4 and found[1].truncated_tokens > 0
    assert found[0].truncated_tokens == 0 and found[0].chunks == 1


def test_evaluate_scores_ours_and_every_peer_on_the_same_documents(tiny_summ, tmp_path):
    result = steps.evaluate_model(tiny_summ["cfg"], tiny_summ["model"], tiny_summ["data"], tmp_path)
    models = {(r["set"], r["model"]) for r in result["table"]}
    for test_set in ("test", "abstracts", "wikipedia"):
        for model in ("ours", "lead-1", "lead-3", "lexrank", "textrank", "lsa"):
            assert (test_set, model) in models
    assert all(r["documents"] == 4 for r in result["table"])
    lead = next(r for r in result["table"] if r["set"] == "test" and r["model"] == "lead-1")
    assert 5 < lead["rougeL"] < 80  # lead-1 shares words with Debian synopses, never all of them
    assert result["metric"] == "rougeL" and "rougeL_wikipedia" in result["ours"]
    assert (tmp_path / "metrics.md").is_file() and Path(result["plot"]).stat().st_size > 5000


def test_batch_summaries_record_bad_documents_and_resume(tiny_summ, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_bytes(b'{"id": "a", "document": "Tools to convert PDF files to text and images."}\n'
                     b'{"id": "b", "document": "   "}\n'
                     b'not json\n'
                     b'{"id": "c", "document": "A fast JSON parser written in C with Python bindings."}\n')
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "ok.txt").write_text("A library for reading and writing audio files.")
    (folder / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02 binary")
    rows = document_rows(docs) + document_rows(folder)
    assert [r.error is None for r in rows] == [True, False, False, True, False, False, True]  # binary, latin1, ok
    out = tmp_path / "out"
    first = steps.summarize_path(tiny_summ["model"], docs, out, progress=False)
    assert first["succeeded"] == 2 and first["errors"] == 2
    again = steps.summarize_path(tiny_summ["model"], docs, out, progress=False)
    assert again["skipped_shards"] == 1 and len(read_outputs(out)) == 2
    records = [json.loads(x) for x in (out / "summaries.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["a", "c"] and all("summary" in r for r in records)
    reasons = (out / "errors.jsonl").read_text()
    assert "empty document" in reasons and "bad JSON" in reasons


def test_cli_summarizes_a_file_and_gives_one_line_errors(tiny_summ, tmp_path, capsys):
    doc = tmp_path / "report.txt"
    doc.write_text("The package provides command line tools to inspect network traffic.")
    code = main([str(doc), "--model", tiny_summ["model"], "--out", str(tmp_path / "o"), "--max-length", "6"])
    out = capsys.readouterr()
    assert code == 0 and out.out.startswith("report.txt\t")
    assert main([str(tmp_path / "missing.txt"), "--model", tiny_summ["model"]]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert main([str(doc), "--model", tiny_summ["model"], "--min-length", "9", "--max-length", "4"]) == 2
    assert "min_length" in capsys.readouterr().err


def test_read_pairs_accepts_your_jsonl_and_folders(tmp_path):
    (tmp_path / "p.jsonl").write_text('{"document": "d1", "summary": "s1"}\n{"document": "d2"}\n')
    assert [p.summary for p in read_pairs(tmp_path / "p.jsonl")] == ["s1", None]
    with pytest.raises(DataError, match="no summary"):
        read_pairs(tmp_path / "p.jsonl", need_summary=True)
    (tmp_path / "bad.jsonl").write_text('{"document": 3}\n')
    with pytest.raises(DataError, match="bad.jsonl:1"):
        read_pairs(tmp_path / "bad.jsonl")
