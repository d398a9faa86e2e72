"""The OCR flows end to end under Prefect (tiny config): champion registered, batch OCR with error rows."""

import shutil
from pathlib import Path

from apps.ocr.data import load_split
from shared.inference import read_outputs
from shared.registry import ModelRegistry


def test_ocr_flows_end_to_end(prefect_server, tmp_path):
    from pipelines.flows import ocr_batch, ocr_retrain

    result = ocr_retrain(config="tiny", prepared=str(tmp_path / "data"), run_root=str(tmp_path / "runs"),
                         registry=str(tmp_path / "registry"))
    assert result["registered"]["name"] == "ocr-rendered" and result["registered"]["promoted"]
    assert result["best_peer"] == "tesseract" and "cer" in result["ours"] and Path(result["plot"]).is_file()
    assert "held-out font families" in result["split_rule"]
    assert ModelRegistry(tmp_path / "registry").champion("ocr-rendered").path.joinpath("lm.json").is_file()

    incoming = tmp_path / "incoming"
    incoming.mkdir()
    for i, row in enumerate(load_split(result["data_path"], "test")[:2]):
        shutil.copy(row.image, incoming / f"line{i}.png")
    (incoming / "broken.png").write_bytes(b"not an image")
    batch = ocr_batch(str(incoming), str(tmp_path / "batch"), registry=str(tmp_path / "registry"),
                      options={"overlay": True, "decode": "greedy"})
    assert batch["succeeded"] == 2 and batch["errors"] == 1
    assert len(read_outputs(tmp_path / "batch")) == 2 and (tmp_path / "batch/lines.jsonl").is_file()
    assert (tmp_path / "batch/overlays/line0.png").is_file() and batch["files"]["text"].endswith("lines.txt")


def test_a_users_lines_retrain_under_the_lines_registry_name(prefect_server, tmp_path, monkeypatch):
    from apps.ocr.app import APP
    from pipelines.flows import ocr_retrain

    monkeypatch.chdir(tmp_path)
    sample = APP.sample_files(tmp_path / "mine")
    result = ocr_retrain(config="tiny", data=sample.data, overrides=["train.max_steps=2"], run_root=str(tmp_path / "runs"),
                         registry=str(tmp_path / "registry"), batch_input=sample.predict_input)
    assert result["registered"]["name"] == "ocr-lines" and "split by writer" in result["split_rule"]
    assert result["report"]["splits"] == {"train": 12, "valid": 6, "test": 6}
    assert result["batch"]["succeeded"] == 3 and result["batch"]["errors"] == 1
