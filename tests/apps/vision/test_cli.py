"""``sextant vision`` (alias ``sextant-vision``) from the command line: help, the tiny pipeline, and one-line errors."""

import subprocess
import sys

from apps.vision.app import main


def test_help_shows_examples():
    out = subprocess.run([sys.executable, "-c", "from apps.vision.app import main; main()", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Examples:" in out.stdout and "predict images/" in out.stdout


def test_evaluate_prints_ours_next_to_the_peer(tiny_vision, tmp_path, capsys):
    code = main(["evaluate", "--config", "tiny", "--prepared", tiny_vision["data"],
                 "--model", tiny_vision["model_dir"], "--out", str(tmp_path / "ev")])
    out = capsys.readouterr().out
    assert code == 0 and "ours" in out and "otsu_watershed" in out and "held out:" in out
    assert (tmp_path / "ev/test_overlays.png").stat().st_size > 1000
    assert "| ours |" in (tmp_path / "ev/metrics.md").read_text()


def test_bad_input_is_one_line_error(tiny_vision, tmp_path, capsys):
    model = tiny_vision["model_dir"]
    assert main(["predict", str(tmp_path / "missing"), "--model", model, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: input not found") and len(err.strip().splitlines()) == 1
    assert main(["predict", str(tmp_path), "--model", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: ")  # not a model folder
    assert main(["train", "--config", "tiny", "--set", "data.dataset=coco", "--prepared", str(tmp_path / "p")]) == 2
    assert "pass --data" in capsys.readouterr().err
    assert main(["train", "--config", "tiny", "--set", "data.dataset=coco", "data.coco.train=a.json",
                 "--prepared", str(tmp_path / "p")]) == 2
    assert "needs valid, test too" in capsys.readouterr().err
    assert main(["train", "--config", "tiny", "--set", "model.task=segmentation"]) == 2
    assert "is not one of" in capsys.readouterr().err


def test_user_coco_and_mask_folders_train(tiny_vision, tmp_path, capsys, monkeypatch):
    """A user's COCO files (here the prepared nuclei files) and image + mask folders both train."""
    import numpy as np
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    data = tiny_vision["data"]
    coco = [f"data.coco.{s}={data}/instances_{s}.json" for s in ("train", "valid", "test")]
    assert main(["train", "--config", "tiny", "--set", "data.dataset=coco", *coco, "--run", "coco-run"]) == 0
    for split in ("train", "valid", "test"):
        (tmp_path / "mine" / split / "images").mkdir(parents=True)
        (tmp_path / "mine" / split / "masks").mkdir()
        for k in range(2):
            image = np.random.default_rng(k).integers(0, 255, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(image).save(tmp_path / "mine" / split / "images" / f"{split}{k}.png")
            Image.fromarray((image[..., 0] > 128).astype(np.uint8)).save(tmp_path / "mine" / split / "masks" / f"{split}{k}.png")
    folders = ["--data", "mine", "--set", "model.task=segment", "data.classes=[background,bright]"]
    assert main(["train", "--config", "tiny", *folders, "--run", "seg-run"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--config", "tiny", *folders, "--model", "seg-run/best", "--out", "e"]) == 0
    out = capsys.readouterr().out
    assert "ours" in out and "otsu" not in out  # the classic peer only applies to single-class instances
    assert "your own test split" in out
