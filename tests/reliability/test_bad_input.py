"""Property-based bad input: whatever bytes arrive, a reader gives rows or error rows, or a
one-line DataError for the whole file; never another exception."""

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from shared.errors import DataError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _one_line(err: Exception) -> None:
    assert str(err) and "\n" not in str(err).strip(), repr(err)


# ------------------------------------------------------------------ forecasting CSV
cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                  st.text(max_size=8), st.sampled_from(["", "nan", "inf", "-inf", "2020-01-01", "NaT"]))
dates = st.sampled_from(["2020-01-01", "2020-02-01", "2020-03-01", "2020-03-01", "not a date", "", "2020-13-45"])
columns = st.sampled_from([("unique_id", "ds", "y"), ("id", "date", "value"), ("unique_id", "ds"), ("ds", "y", "y")])


@SETTINGS
@given(header=columns, rows=st.lists(st.tuples(st.sampled_from(["a", "b", ""]), dates, cells), max_size=40),
       raw=st.binary(max_size=200), use_raw=st.booleans())
def test_forecasting_reader_gives_rows_or_one_line_errors(tmp_path, header, rows, raw, use_raw):
    from apps.forecasting.predict import read_rows

    path = tmp_path / "series.csv"
    if use_raw:
        path.write_bytes(raw)
    else:
        lines = [",".join(header)] + [",".join(str(v) for v in row[: len(header)]) for row in rows]
        path.write_text("\n".join(lines) + "\n")
    try:
        produced = list(read_rows(path))
    except DataError as err:
        _one_line(err)
        return
    for row in produced:
        assert row.error is None or "\n" not in row.error.strip()
        if row.error is None:
            assert np.isfinite(row.payload["values"]).all()


# ------------------------------------------------------------------ summarization JSONL
@SETTINGS
@given(lines=st.lists(st.one_of(st.binary(max_size=60), st.builds(lambda v: json.dumps(v).encode(), st.one_of(
    st.none(), st.integers(), st.text(max_size=20), st.dictionaries(st.sampled_from(["id", "document", "x"]),
                                                                    st.one_of(st.text(max_size=30), st.integers(),
                                                                              st.none()), max_size=3)))),
    max_size=12))
def test_summarization_jsonl_rows_are_documents_or_error_rows(tmp_path, lines):
    from apps.summarization.predict import document_rows

    path = tmp_path / "docs.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    try:
        rows = document_rows(path)
    except DataError as err:
        _one_line(err)
        return
    for row in rows:
        assert (row.error is None) != (row.payload is None)
        assert row.error is None or "\n" not in row.error.strip()
        assert row.error is not None or (isinstance(row.payload, str) and row.payload.strip())


# ------------------------------------------------------------------ images and audio
def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.arange(64 * 48, dtype=np.uint16).reshape(48, 64).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def _wav_bytes() -> bytes:
    from apps.speech.audio import wav_bytes

    return wav_bytes(np.sin(np.linspace(0, 200, 8000)).astype(np.float32))


def _damaged(good: bytes):
    """Truncations, flipped bytes and random junk around a valid file."""
    return st.one_of(
        st.integers(0, len(good) - 1).map(lambda n: good[:n]),
        st.tuples(st.integers(0, len(good) - 1), st.integers(1, 255)).map(
            lambda t: good[: t[0]] + bytes([good[t[0]] ^ t[1]]) + good[t[0] + 1:]),
        st.binary(max_size=300),
        st.binary(max_size=40).map(lambda junk: good[:16] + junk),
    )


@pytest.mark.parametrize("reader", ["apps.vision.images:read_rgb", "apps.ocr.images:read_image"])
@SETTINGS
@given(data=_damaged(_png_bytes()))
def test_damaged_images_are_read_or_refused_in_one_line(tmp_path, reader, data):
    import importlib

    module, name = reader.split(":")
    path = tmp_path / "x.png"
    path.write_bytes(data)
    try:
        image = getattr(importlib.import_module(module), name)(path)
    except DataError as err:
        _one_line(err)
        return
    assert image.size > 0


@SETTINGS
@given(data=_damaged(_wav_bytes()))
def test_damaged_audio_is_read_or_refused_in_one_line(tmp_path, data):
    from apps.speech.audio import read_audio

    path = tmp_path / "x.wav"
    path.write_bytes(data)
    try:
        audio = read_audio(path)
    except DataError as err:
        _one_line(err)
        return
    assert audio.dtype == np.float32 and np.isfinite(audio).all()
