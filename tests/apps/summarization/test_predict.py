"""The batch job: reading documents (bad ones become error rows), summaries, resume."""

import json

from apps.summarization.app import APP, SummarizationOptions
from apps.summarization.predict import document_rows
from shared.app import run_predictor
from shared.inference import read_outputs


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
    first = run_predictor(APP.predictor(tiny_summ["model"], SummarizationOptions()), [str(docs)], out, progress=False)
    assert first["succeeded"] == 2 and first["errors"] == 2
    again = run_predictor(APP.predictor(tiny_summ["model"], SummarizationOptions()), [str(docs)], out, progress=False)
    assert again["skipped_shards"] == 1 and len(read_outputs(out)) == 2
    records = [json.loads(x) for x in (out / "summaries.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["a", "c"] and all("summary" in r for r in records)
    assert [line.split("\t")[0] for line in (out / "summaries.txt").read_text().splitlines()] == ["a", "c"]
    reasons = (out / "errors.jsonl").read_text()
    assert "empty document" in reasons and "bad JSON" in reasons
    assert again["files"] == {"summaries": str(out / "summaries.jsonl"), "text": str(out / "summaries.txt")}


def test_parquet_shards_and_long_documents(tiny_summ, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "long", "document": "word " * 600}) + "\n"
                    + json.dumps({"id": "short", "document": "A tool to inspect network traffic."}) + "\n")
    out = tmp_path / "out"
    options = SummarizationOptions(beams=1, max_length=6, format="parquet")
    result = run_predictor(APP.predictor(tiny_summ["model"], options), [str(docs)], out, progress=False)
    assert result["succeeded"] == 2 and list(out.glob("shard-*.parquet"))
    records = {r["id"]: r for r in read_outputs(out)}
    assert records["long"]["truncated_tokens"] > 0 and records["short"]["truncated_tokens"] == 0
    text = dict(line.split("\t", 1) for line in (out / "summaries.txt").read_text().splitlines())
    assert "(read 256 of" in text["long"]  # window 64 x 4 chunks
