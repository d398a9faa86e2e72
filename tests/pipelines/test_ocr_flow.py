"""The OCR flows end to end under Prefect (tiny config): champion registered, batch OCR with error rows."""

import shutil
from pathlib import Path

from apps.ocr.steps import load_split
from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_ocr_flows_end_to_end(prefect_server, tmp_path):
    from pipelines.ocr import batch_read, retrain

    result = retrain(config="tiny", data_dir=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                     registry=str(tmp_path / "registry"))
    assert result["registered"]["name"] == "ocr-rendered" and result["registered"]["promoted"]
    assert result["best_peer"] == "tesseract" and "cer" in result["ours"] and Path(result["plot"]).is_file()
    assert ModelRegistry(tmp_path / "registry").champion("ocr-rendered").path.joinpath("lm.json").is_file()

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for i, row in enumerate(load_split(result["data_path"], "test")[:2]):
        shutil.copy(row.image, incoming / f"line{i}.png")
    (incoming / "broken.png").write_bytes(b"not an image")
    batch = batch_read(str(incoming), str(tmp_path / "batch"), registry=str(tmp_path / "registry"))
    assert batch["succeeded"] == 2 and batch["errors"] == 1
    assert len(read_outputs(tmp_path / "batch")) == 2 and (tmp_path / "batch/lines.jsonl").is_file()
