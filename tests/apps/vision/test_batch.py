"""Batch prediction over image folders: bad files become error rows, reruns resume, outputs are complete."""

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from apps.vision.batch import predict_folder
from shared.inference import read_outputs
from shared.model_folder import load_model


def _images(folder: Path, data_dir: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for tile in sorted(Path(data_dir, "test").glob("*.png")):
        shutil.copy(tile, folder / tile.name)
    Image.fromarray((np.random.default_rng(0).random((40, 56)) * 60000).astype(np.uint16)).save(folder / "gray16.png")
    Image.fromarray(np.zeros((24, 24, 4), np.uint8)).save(folder / "rgba.png")
    (folder / "truncated.png").write_bytes((folder / "gray16.png").read_bytes()[:300])
    (folder / "text.jpg").write_text("not an image")
    return folder


def test_bad_files_are_error_rows_and_the_rest_is_predicted(tiny_vision, tmp_path):
    images = _images(tmp_path / "in", tiny_vision["data"])
    summary = predict_folder(load_model(tiny_vision["model_dir"]), images, tmp_path / "out", progress=False)
    assert summary.rows == 7 and summary.succeeded == 5 and summary.errors == 2
    errors = {json.loads(line)["row_id"]: json.loads(line)["reason"] for line in (tmp_path / "out/errors.jsonl").read_text().splitlines()}
    assert set(errors) == {"truncated.png", "text.jpg"} and all("unreadable image" in r for r in errors.values())
    records = {r["row_id"]: r for r in read_outputs(tmp_path / "out")}
    gray = records["gray16.png"]
    assert (gray["width"], gray["height"]) == (56, 40)
    mask = np.asarray(Image.open(tmp_path / "out" / gray["mask"]))
    assert mask.shape == (40, 56) and mask.max() <= 1
    assert Image.open(tmp_path / "out" / gray["instance_mask"]).size == (56, 40)
    assert (tmp_path / "out" / gray["overlay"]).is_file()
    coco = json.loads((tmp_path / "out/detections.coco.json").read_text())
    assert [i["file_name"] for i in coco["images"]] == sorted(records)
    assert coco["categories"] == [{"id": 1, "name": "nucleus"}]


def test_a_killed_job_resumes_without_losing_or_duplicating(tiny_vision, tmp_path):
    images = _images(tmp_path / "in", tiny_vision["data"])
    loaded = load_model(tiny_vision["model_dir"])
    full = predict_folder(loaded, images, tmp_path / "out", progress=False, shard_size=2)
    before = read_outputs(tmp_path / "out")
    (tmp_path / "out/shard-00002.jsonl").unlink()  # as if the job died while writing the third shard
    again = predict_folder(loaded, images, tmp_path / "out", progress=False, shard_size=2)
    assert again.skipped_shards == full.written_shards - 1 and again.written_shards == 1
    after = read_outputs(tmp_path / "out")
    assert [r["row_id"] for r in after] == [r["row_id"] for r in before]
    assert after == before


def test_output_names_stay_inside_the_output_folder():
    from apps.vision.batch import output_name

    assert output_name("a/b.png") == Path("a/b.png")
    assert output_name("a/b.jpg") == Path("a/b.jpg.png")  # never collides with a/b.png
    assert output_name("/abs/x.png") == Path("abs/x.png")
    assert output_name("../../etc/x.tif") == Path("_/_/etc/x.tif.png")


def test_manifest_entries_outside_its_folder_never_overwrite_inputs(tiny_vision, tmp_path, monkeypatch):
    monkeypatch.setenv("SEXTANT_ALLOWED_ROOTS", str(tmp_path))  # outside entries are refused unless allowed
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    tile = sorted(Path(tiny_vision["data"], "test").glob("*.png"))[0]
    shutil.copy(tile, outside / "x.png")
    before = (outside / "x.png").read_bytes()
    (tmp_path / "lists").mkdir()
    manifest = tmp_path / "lists" / "m.txt"
    manifest.write_text(f"{outside / 'x.png'}\n../elsewhere/x.png\n")
    out = tmp_path / "out"
    summary = predict_folder(load_model(tiny_vision["model_dir"]), manifest, out, progress=False)
    assert summary.succeeded == 2
    assert (outside / "x.png").read_bytes() == before
    assert all(Path(out / r["overlay"]).resolve().is_relative_to(out.resolve()) for r in read_outputs(out))
