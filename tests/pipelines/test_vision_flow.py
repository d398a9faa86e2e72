"""The vision flow end to end under Prefect (tiny config): a champion, overlays, and batch error rows."""

import json
import shutil
from pathlib import Path

from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_vision_flow_end_to_end(prefect_server, tmp_path):
    from pipelines.vision import batch_predict, retrain

    summary = retrain(config="tiny", data_dir=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                      registry=str(tmp_path / "registry"))
    assert summary["registered"]["name"] == "vision-nuclei" and summary["registered"]["promoted"]
    assert ModelRegistry(tmp_path / "registry").champion("vision-nuclei").version == "v0001"
    assert summary["best_peer"] == "otsu_watershed" and "instance_f1" in summary["ours"]
    assert Path(summary["plot"]).is_file()

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for tile in sorted(Path(summary["data_path"], "test").glob("*.png"))[:2]:
        shutil.copy(tile, incoming / tile.name)
    (incoming / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    batch = batch_predict(str(incoming), str(tmp_path / "batch"), registry=str(tmp_path / "registry"))
    assert batch["succeeded"] == 2 and batch["errors"] == 1
    assert len(read_outputs(tmp_path / "batch")) == 2
    assert json.loads((tmp_path / "batch/detections.coco.json").read_text())["images"][0]["file_name"].startswith("tile_")
