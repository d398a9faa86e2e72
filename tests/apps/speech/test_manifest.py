"""NeMo-style manifests: relative paths, extra keys, errors naming the line."""

import json

import pytest

from apps.speech.manifest import ManifestEntry, read_manifest, write_manifest
from shared.errors import DataError


def test_round_trip_with_relative_paths_and_extra_keys(tmp_path):
    inside = tmp_path / "set" / "train" / "a.wav"
    outside = tmp_path / "elsewhere" / "b.wav"
    entries = [ManifestEntry(str(inside), 1.25, "hello world", {"voice": "flite-slt", "sentence_id": 3}),
               ManifestEntry(str(outside), 0.5, "zie je", {})]
    path = write_manifest(tmp_path / "set" / "train.jsonl", entries)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0] == {"audio_filepath": "train/a.wav", "duration": 1.25, "text": "hello world", "voice": "flite-slt",
                       "sentence_id": 3}
    assert rows[1]["audio_filepath"] == str(outside)
    assert read_manifest(path) == entries
    assert not list((tmp_path / "set").glob("*.tmp"))


def test_relative_input_paths_start_at_relative_to(tmp_path):
    path = write_manifest(tmp_path / "m.jsonl", [ManifestEntry("sub/x.wav", 1.0, "a", {})], relative_to=tmp_path)
    assert json.loads(path.read_text())["audio_filepath"] == "sub/x.wav"
    assert read_manifest(path)[0].audio_filepath == str(tmp_path / "sub" / "x.wav")


def test_bad_lines_name_the_line_number(tmp_path):
    path = tmp_path / "m.jsonl"
    good = json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": "a"})
    path.write_text(good + "\n{not json\n")
    with pytest.raises(DataError, match=r"m\.jsonl:2: bad JSON"):
        read_manifest(path)
    path.write_text(good + "\n\n" + json.dumps({"audio_filepath": "b.wav", "text": "b"}) + "\n")
    with pytest.raises(DataError, match=r"m\.jsonl:3: missing key\(s\) duration"):
        read_manifest(path)
    path.write_text(json.dumps({"audio_filepath": "b.wav", "duration": "long", "text": "b"}) + "\n")
    with pytest.raises(DataError, match=r"m\.jsonl:1: duration"):
        read_manifest(path)
    with pytest.raises(DataError, match="not found"):
        read_manifest(tmp_path / "none.jsonl")
