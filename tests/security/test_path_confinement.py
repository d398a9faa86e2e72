"""Paths read from training manifests, label files, COCO files and configs stay under their
allowed root (the file's folder; the working directory for configs) unless
SEXTANT_ALLOWED_ROOTS lists the folder. Batch-input manifests: tests/shared/test_inference.py."""

import json
import os

import pytest

from shared.errors import DataError

ESCAPES = ["../secret.wav", "sub/../../secret.wav", "link/secret.wav", "ABSOLUTE"]


def _escape(entry: str, tmp_path) -> str:
    return str(tmp_path / "secret.wav") if entry == "ABSOLUTE" else entry


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """``tmp_path/data`` holding the file under test, a secret beside it, and a symlink out."""
    monkeypatch.delenv("SEXTANT_ALLOWED_ROOTS", raising=False)
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secret.wav").write_bytes(b"")
    (data / "link").symlink_to(tmp_path)
    return data


@pytest.mark.parametrize("entry", ESCAPES)
def test_speech_training_manifests_are_confined(folder, tmp_path, monkeypatch, entry):
    from apps.speech.manifest import read_manifest

    manifest = folder / "train.jsonl"
    rows = [{"audio_filepath": "ok.wav", "duration": 1.0, "text": "a"},
            {"audio_filepath": _escape(entry, tmp_path), "duration": 1.0, "text": "b"}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"train.jsonl:2: .* is outside the manifest's folder"):
        read_manifest(manifest)
    monkeypatch.setenv("SEXTANT_ALLOWED_ROOTS", f"/nowhere{os.pathsep}{tmp_path}")
    assert len(read_manifest(manifest)) == 2


@pytest.mark.parametrize("entry", ESCAPES)
def test_ocr_line_files_are_confined(folder, tmp_path, monkeypatch, entry):
    from apps.ocr.data import read_rows

    tsv = folder / "train.tsv"
    tsv.write_text(f"ok.png\tfine\n{_escape(entry, tmp_path)}\tsecret\n")
    with pytest.raises(DataError, match=r"train.tsv:2: .* is outside the split file's folder"):
        read_rows(tsv)
    monkeypatch.setenv("SEXTANT_ALLOWED_ROOTS", str(tmp_path))
    assert len(read_rows(tsv)) == 2


@pytest.mark.parametrize("entry", ESCAPES)
def test_coco_file_names_are_confined(folder, tmp_path, monkeypatch, entry):
    from apps.vision.coco import load_coco

    coco = folder / "instances.json"
    images = [{"id": 1, "file_name": "ok.png", "width": 4, "height": 4},
              {"id": 2, "file_name": _escape(entry, tmp_path), "width": 4, "height": 4}]
    coco.write_text(json.dumps({"images": images, "annotations": [], "categories": [{"id": 1, "name": "x"}]}))
    with pytest.raises(DataError, match=r"instances.json: images\[1\]: .* is outside the image folder"):
        load_coco(coco)
    monkeypatch.setenv("SEXTANT_ALLOWED_ROOTS", str(tmp_path))
    assert len(load_coco(coco).images) == 2


def test_files_a_config_names_must_be_under_the_working_directory(tmp_path, monkeypatch):
    from apps.molecules.app import APP as MOLECULES
    from apps.summarization.app import APP as SUMMARIZATION

    monkeypatch.delenv("SEXTANT_ALLOWED_ROOTS", raising=False)
    work, outside = tmp_path / "project", tmp_path / "elsewhere"
    work.mkdir()
    outside.mkdir()
    monkeypatch.chdir(work)
    # 20 molecules: prepare refuses a split that leaves a side empty
    smiles = ["C" * n for n in range(1, 11)] + ["C" * n + "O" for n in range(1, 11)]
    (outside / "mols.csv").write_text("smiles,y\n" + "".join(f"{s},{i}.0\n" for i, s in enumerate(smiles)))
    cfg = MOLECULES.load_config("tiny", [f"data.csv={outside / 'mols.csv'}", "data.targets=[y]", "data.split=random"])
    with pytest.raises(DataError, match=r"config data.csv: .*mols.csv is outside the working directory; add its "
                                        r"folder to SEXTANT_ALLOWED_ROOTS"):
        MOLECULES.prepare(cfg, work / "prepared")
    escape = SUMMARIZATION.load_config("tiny", ["data.dataset=pairs", "data.pairs.train=../elsewhere/p.jsonl",
                                                "data.pairs.valid=v.jsonl", "data.pairs.test=t.jsonl"])
    with pytest.raises(DataError, match=r"config data.pairs.train: ../elsewhere/p.jsonl is outside the working directory"):
        SUMMARIZATION.prepared_dir(escape)
    monkeypatch.setenv("SEXTANT_ALLOWED_ROOTS", str(outside))
    MOLECULES.prepare(cfg, work / "prepared")
    report = json.loads(next((work / "prepared").glob("*.json")).read_text())
    assert sum(report["rows"].values()) == 20  # read, once allowed
