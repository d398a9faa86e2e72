"""Input size limits: refused before decoding, configurable through the environment."""

import numpy as np
import pytest
from PIL import Image

from shared.errors import ConfigError, DataError
from shared.limits import env_limit


def test_env_limit_reads_overrides_and_refuses_nonsense(monkeypatch):
    assert env_limit("SEXTANT_TEST_LIMIT", 5) == 5
    monkeypatch.setenv("SEXTANT_TEST_LIMIT", "7.5")
    assert env_limit("SEXTANT_TEST_LIMIT", 5) == 7.5
    for bad in ("lots", "0", "-3"):
        monkeypatch.setenv("SEXTANT_TEST_LIMIT", bad)
        with pytest.raises(ConfigError, match="SEXTANT_TEST_LIMIT"):
            env_limit("SEXTANT_TEST_LIMIT", 5)


@pytest.mark.parametrize("reader", ["apps.vision.images:read_rgb", "apps.ocr.images:read_image"])
def test_images_over_the_pixel_limit_are_refused_unread(tmp_path, monkeypatch, reader):
    import importlib

    module, name = reader.split(":")
    read = getattr(importlib.import_module(module), name)
    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((40, 300), dtype=np.uint8)).save(path)
    assert read(path).shape[:2] == (40, 300)
    monkeypatch.setenv("SEXTANT_MAX_IMAGE_PIXELS", "10000")
    with pytest.raises(DataError, match="300x40 is over the 10,000-pixel limit"):
        read(path)


@pytest.mark.parametrize("reader", ["apps.vision.images:read_rgb", "apps.ocr.images:read_image"])
@pytest.mark.parametrize("side, message", [(10_000, "10000x10000 is over the 40,000,000-pixel limit"),
                                           (20_000, "decompression bomb")])  # the second: past PIL's own limit
def test_decompression_bomb_pngs_are_refused_from_their_header(tmp_path, reader, side, message):
    import importlib

    module, name = reader.split(":")
    path = tmp_path / "bomb.png"
    Image.new("1", (side, side)).save(path)  # 100 or 400 Mpixel in under 100 KB
    assert path.stat().st_size < 100_000
    with pytest.raises(DataError, match=message):
        getattr(importlib.import_module(module), name)(path)


def test_audio_over_the_duration_limit_is_refused_unread(tmp_path, monkeypatch):
    from apps.speech.audio import read_audio, write_wav

    path = tmp_path / "long.wav"
    write_wav(path, np.zeros(16000 * 3, dtype=np.float32))
    assert read_audio(path).shape[0] == 16000 * 3
    monkeypatch.setenv("SEXTANT_MAX_AUDIO_SECONDS", "2")
    with pytest.raises(DataError, match="3.0 s of audio is over the 2 s limit"):
        read_audio(path)


def test_documents_over_the_length_limit_become_error_rows(tmp_path, monkeypatch):
    from apps.summarization.predict import document_rows

    (tmp_path / "short.txt").write_text("A short document. It has two sentences.")
    (tmp_path / "long.txt").write_text("word " * 1000)
    monkeypatch.setenv("SEXTANT_MAX_DOCUMENT_BYTES", "1000")
    rows = {r.row_id: r for r in document_rows(tmp_path)}
    assert rows["short.txt"].error is None
    assert "over the 1,000-byte document limit (SEXTANT_MAX_DOCUMENT_BYTES)" in rows["long.txt"].error
