"""The vision flow end to end under Prefect (tiny config): a champion, overlays, and batch error rows."""

import json
import shutil
from pathlib import Path

from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_vision_flow_end_to_end(prefect_server, tmp_path):
    from pipelines.flows import vision_batch, vision_retrain

    summary = vision_retrain(config="tiny", prepared=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                             registry=str(tmp_path / "registry"))
    assert summary["registered"]["name"] == "vision-nuclei" and summary["registered"]["promoted"]
    assert ModelRegistry(tmp_path / "registry").champion("vision-nuclei").version == "v0001"
    assert summary["best_peer"] == "otsu_watershed" and "instance_f1" in summary["ours"]
    assert Path(summary["plot"]).is_file() and "tiles" in summary["split_rule"]

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for tile in sorted(Path(summary["data_path"], "test").glob("*.png"))[:2]:
        shutil.copy(tile, incoming / tile.name)
    (incoming / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    batch = vision_batch(str(incoming), str(tmp_path / "batch"), registry=str(tmp_path / "registry"),
                         options={"task": "both", "flips": False})
    assert batch["succeeded"] == 2 and batch["errors"] == 1
    assert len(read_outputs(tmp_path / "batch")) == 2
    assert json.loads((tmp_path / "batch/detections.coco.json").read_text())["images"][0]["file_name"].startswith("tile_")
    assert len(list((tmp_path / "batch/overlays").glob("*.png"))) == 2
