"""sextant-vision from the command line: help, the tiny pipeline, and one-line errors."""

import pytest

from apps.vision.cli import main


def test_help_shows_examples(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "sextant-vision predict images/" in capsys.readouterr().out


def test_evaluate_prints_ours_next_to_the_peer(tiny_vision, tmp_path, capsys):
    code = main(["evaluate", "--config", "tiny", "--data", str(tiny_vision["root"] / "data"),
                 "--model", tiny_vision["model_dir"], "--out", str(tmp_path / "ev")])
    out = capsys.readouterr().out
    assert code == 0 and "| ours |" in out and "| otsu_watershed |" in out
    assert (tmp_path / "ev/test_overlays.png").stat().st_size > 1000


def test_bad_input_is_one_line_error(tiny_vision, tmp_path, capsys):
    model = tiny_vision["model_dir"]
    assert main(["predict", str(tmp_path / "missing"), "--model", model, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: input not found") and len(err.strip().splitlines()) == 1
    assert main(["predict", str(tmp_path), "--model", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: ")  # not a model folder
    assert main(["train", "--config", "tiny", "--set", "dataset=coco", "--data", str(tmp_path)]) == 2
    assert "coco needs instances files" in capsys.readouterr().err


def test_user_coco_and_mask_folders_train(tiny_vision, tmp_path, capsys):
    """A user's COCO files (here the prepared nuclei files) and image + mask folders both train."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    data = Path(tiny_vision["data"])
    coco = [f"coco.{s}={data / f'instances_{s}.json'}" for s in ("train", "valid", "test")]
    assert main(["train", "--config", "tiny", "--set", "dataset=coco", *coco, "--data", str(tmp_path / "d"),
                 "--run", str(tmp_path / "coco-run")]) == 0
    folders = []
    for split in ("train", "valid", "test"):
        (tmp_path / split / "img").mkdir(parents=True)
        (tmp_path / split / "mask").mkdir()
        for k in range(2):
            image = np.random.default_rng(k).integers(0, 255, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(image).save(tmp_path / split / "img" / f"{split}{k}.png")
            Image.fromarray((image[..., 0] > 128).astype(np.uint8)).save(tmp_path / split / "mask" / f"{split}{k}.png")
        folders.append(f"folders.{split}=[{tmp_path / split / 'img'},{tmp_path / split / 'mask'}]")
    assert main(["train", "--config", "tiny", "--task", "segment", "--set", "dataset=folders", "classes=[background,bright]",
                 *folders, "--data", str(tmp_path / "d"), "--run", str(tmp_path / "seg-run")]) == 0
    assert main(["evaluate", "--config", "tiny", "--set", "dataset=folders", "classes=[background,bright]", *folders,
                 "--data", str(tmp_path / "d"), "--model", str(tmp_path / "seg-run/best"), "--out", str(tmp_path / "e")]) == 0
    out = capsys.readouterr().out
    assert "| ours |" in out and "otsu" not in out  # the classic peer only applies to single-class instances
