"""Batch prediction over image folders: bad files become error rows, reruns resume, outputs are complete."""

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from apps.vision.app import APP, VisionOptions
from apps.vision.predict import VisionPredictor, output_name
from shared.app import run_predictor
from shared.inference import read_outputs


def _images(folder: Path, data_dir: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for tile in sorted(Path(data_dir, "test").glob("*.png")):
        shutil.copy(tile, folder / tile.name)
    Image.fromarray((np.random.default_rng(0).random((40, 56)) * 60000).astype(np.uint16)).save(folder / "gray16.png")
    Image.fromarray(np.zeros((24, 24, 4), np.uint8)).save(folder / "rgba.png")
    (folder / "truncated.png").write_bytes((folder / "gray16.png").read_bytes()[:300])
    (folder / "text.jpg").write_text("not an image")
    return folder


def _predict(model_dir, images, out, shard_size=None, **options):
    predictor = APP.predictor(model_dir, VisionOptions(**options))
    if shard_size:
        predictor.shard_size = shard_size
    return run_predictor(predictor, [str(images)], out, progress=False)


def test_bad_files_are_error_rows_and_the_rest_is_predicted(tiny_vision, tmp_path):
    images = _images(tmp_path / "in", tiny_vision["data"])
    summary = _predict(tiny_vision["model_dir"], images, tmp_path / "out")
    assert summary["rows"] == 7 and summary["succeeded"] == 5 and summary["errors"] == 2
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
    assert summary["files"]["detections"] == str(tmp_path / "out/detections.coco.json")


def test_records_hold_the_masks_as_coco_rle(tiny_vision, tmp_path):
    """The PNGs are written from the records: the instance PNG and the RLE masks agree pixel for pixel."""
    from apps.vision.predict import from_rle

    images = _images(tmp_path / "in", tiny_vision["data"])
    _predict(tiny_vision["model_dir"], images, tmp_path / "out")
    for record in read_outputs(tmp_path / "out"):
        labels = np.asarray(Image.open(tmp_path / "out" / record["instance_mask"]))
        found = json.loads(record["instance_masks"])
        assert len(found) == record["instances"] == labels.max()
        for k, instance in enumerate(found, start=1):
            assert (from_rle(instance["segmentation"]) == (labels == k)).all() and 0 <= instance["score"] <= 1
        semantic = np.asarray(Image.open(tmp_path / "out" / record["mask"]))
        segments = json.loads(record["segments"])
        assert set(segments) <= {"nucleus"}
        assert (semantic == 1).sum() == sum(from_rle(s).sum() for s in segments.values())


def test_the_task_narrows_the_outputs(tiny_vision, tmp_path):
    images = _images(tmp_path / "in", tiny_vision["data"])
    _predict(tiny_vision["model_dir"], images, tmp_path / "boxes", task="detect", flips=False)
    record = read_outputs(tmp_path / "boxes")[0]
    assert "mask" not in record and "instance_mask" not in record and "detections" in record
    assert not (tmp_path / "boxes/masks").exists() and (tmp_path / "boxes" / record["overlay"]).is_file()
    _predict(tiny_vision["model_dir"], images, tmp_path / "seg", task="segment")
    record = read_outputs(tmp_path / "seg")[0]
    assert json.loads(record["detections"]) == [] and "mask" in record


def test_a_killed_job_resumes_without_losing_or_duplicating(tiny_vision, tmp_path):
    images = _images(tmp_path / "in", tiny_vision["data"])
    full = _predict(tiny_vision["model_dir"], images, tmp_path / "out", shard_size=2)
    before = read_outputs(tmp_path / "out")
    (tmp_path / "out/shard-00002.jsonl").unlink()  # as if the job died while writing the third shard
    again = _predict(tiny_vision["model_dir"], images, tmp_path / "out", shard_size=2)
    assert again["skipped_shards"] == full["written_shards"] - 1 and again["written_shards"] == 1
    after = read_outputs(tmp_path / "out")
    assert [r["row_id"] for r in after] == [r["row_id"] for r in before]
    assert after == before


def test_output_names_stay_inside_the_output_folder():
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
    summary = run_predictor(VisionPredictor(tiny_vision["model_dir"]), [str(manifest)], out, progress=False)
    assert summary["succeeded"] == 2
    assert (outside / "x.png").read_bytes() == before
    assert all(Path(out / r["overlay"]).resolve().is_relative_to(out.resolve()) for r in read_outputs(out))


def test_mask_boxes_replace_a_detection_box_only_where_the_two_agree():
    from apps.vision.predict import Detections, boxes_from_masks

    labels = np.zeros((32, 32), np.int32)
    labels[4:12, 6:16] = 1  # tight box (6, 4, 16, 12)
    labels[20:30, 20:30] = 2  # tight box (20, 20, 30, 30)
    found = Detections(np.array([[5.0, 3, 17, 13], [0, 0, 8, 8], [20, 20, 24, 24]], np.float32),
                       np.array([0.9, 0.8, 0.7], np.float32), np.zeros(3, np.int64))
    seeds = np.array([0, 2])  # instance 1 seeded by detection 0, instance 2 by detection 2
    out = boxes_from_masks(found, labels, seeds)
    np.testing.assert_array_equal(out.boxes[0], [6, 4, 16, 12])  # agreed (IoU 0.67): the mask's box
    np.testing.assert_array_equal(out.boxes[1], found.boxes[1])  # seeded nothing
    np.testing.assert_array_equal(out.boxes[2], found.boxes[2])  # IoU 0.16: the regressed box stays
    np.testing.assert_array_equal(out.scores, found.scores)


def test_an_iou_aware_model_predicts_and_records_its_settings(tmp_path):
    from apps.vision.app import APP
    from apps.vision.predict import PostProcess, VisionPredictor, predict_images

    cfg = APP.load_config("tiny", ["model.iou_aware=true", "mask_boxes=true", "iou_power=0.3",
                                   "train.max_steps=2", "train.eval_every=2"])
    data = APP.prepare(cfg, tmp_path / "data")
    trained = APP.train(cfg, data, tmp_path / "run")
    predictor = VisionPredictor(trained.model_dir)
    assert predictor.post == PostProcess(True, 0.3, True, 0.3)
    image = np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    pred = predict_images(predictor.loaded.model, [image], PostProcess(flips=False))[0]
    assert pred.semantic.shape == (40, 56) and (pred.detections.scores <= 1).all()


def test_iou_aware_scores_only_peaks_whatever_the_power():
    import torch

    from apps.vision.predict import detections

    heat = torch.zeros(1, 8, 8)
    heat[0, 2, 2], heat[0, 6, 5] = 0.8, 0.4
    box = torch.full((4, 8, 8), 3.0)
    iou = torch.full((1, 8, 8), 0.9)
    iou[0, 6, 5] = 0.1
    for power, expected in ((0.0, [0.8, 0.4]), (0.5, [(0.8 * 0.9) ** 0.5, (0.4 * 0.1) ** 0.5]), (1.0, [0.9, 0.1])):
        found = detections(heat, box, 32, 32, score_threshold=0.01, iou=iou, iou_power=power)
        np.testing.assert_allclose(sorted(found.scores, reverse=True), expected, rtol=1e-5)


def test_mask_boxes_with_no_confident_detection_keep_the_unseeded_blobs():
    import torch

    from apps.vision.model import DenseVisionTransformer, VisionModelConfig
    from apps.vision.predict import PostProcess, predict_images

    model = DenseVisionTransformer(VisionModelConfig(d_model=32, n_heads=4, layers=2, d_ff=64, stem_channels=[8, 16, 16],
                                                     decoder_channels=16)).eval()
    with torch.no_grad():
        model.seg_head.bias.copy_(torch.tensor([-5.0, 5.0]))  # every pixel foreground: one big unseeded blob
    image = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    pred = predict_images(model, [image], PostProcess(flips=False, score_threshold=1.0, mask_boxes=True))[0]
    assert pred.instances.max() == 1 and len(pred.instance_scores) == 1
