"""Reading user images: conversions for odd formats, one-line errors for broken files."""

import numpy as np
import pytest
from PIL import Image

from apps.vision.images import png_bytes, read_rgb, to_uint8
from shared.errors import DataError


def test_formats_are_converted_to_rgb_uint8(tmp_path):
    gray16 = (np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 20)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(tmp_path / "gray.png")
    Image.fromarray((np.zeros((8, 8, 4)) + [10, 20, 30, 255]).astype(np.uint8)).save(tmp_path / "rgba.png")
    Image.fromarray((np.zeros((8, 8, 3)) + [1, 2, 3]).astype(np.uint8)).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "pal.png")
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(tmp_path / "photo.jpg")
    g16 = read_rgb(tmp_path / "g16.png")
    assert g16.shape == (48, 64, 3) and g16.dtype == np.uint8 and g16.min() == 0 and g16.max() == 255
    assert (read_rgb(tmp_path / "gray.png") == 7).all()
    assert read_rgb(tmp_path / "rgba.png")[0, 0].tolist() == [10, 20, 30]
    assert read_rgb(tmp_path / "pal.png")[0, 0].tolist() == [1, 2, 3]
    assert read_rgb(tmp_path / "photo.jpg").shape == (8, 8, 3)


@pytest.mark.parametrize("content,reason", [
    (b"not an image at all", "unreadable image"),
    (None, "unreadable image"),  # a PNG cut in half
    (b"", "unreadable image"),
])
def test_broken_files_are_one_line_errors(tmp_path, content, reason):
    if content is None:
        content = png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))[:400]
    (tmp_path / "bad.png").write_bytes(content)
    with pytest.raises(DataError, match=reason) as err:
        read_rgb(tmp_path / "bad.png")
    assert "\n" not in str(err.value) and str(err.value).startswith("bad.png")
    with pytest.raises(DataError, match="no such file"):
        read_rgb(tmp_path / "missing.png")


def test_float_images_with_nan_and_inf_scale_on_their_finite_pixels(tmp_path):
    ramp = np.linspace(0.0, 1.0, 100, dtype=np.float32).reshape(10, 10)
    holed = ramp.copy()
    holed[0, 0], holed[5, 5] = np.nan, np.inf
    scaled = to_uint8(holed)
    assert scaled[0, 0] == 0 and scaled[5, 5] == 0  # non-finite -> darkest
    assert np.array_equal(scaled[1:, :5], to_uint8(ramp)[1:, :5])
    Image.fromarray(np.full((8, 8), np.nan, np.float32), "F").save(tmp_path / "nan.tif")
    with pytest.raises(DataError, match="nan.tif: no finite pixel values"):
        read_rgb(tmp_path / "nan.tif")
