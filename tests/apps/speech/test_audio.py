"""Audio I/O: 16-bit WAV round trip, stereo/rate conversion, unreadable files, silence, chunking."""

import numpy as np
import pytest
import soundfile as sf

from apps.speech.audio import SAMPLE_RATE, check_audio, chunk_audio, read_audio, resample, to_mono, write_wav
from shared.errors import DataError


def sine(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


def test_wav_round_trip_is_16_bit_and_clipped(tmp_path):
    audio = np.random.default_rng(0).uniform(-0.9, 0.9, SAMPLE_RATE).astype(np.float32)
    audio[:2] = [1.7, -3.0]
    path = tmp_path / "a" / "x.wav"
    write_wav(path, audio)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (SAMPLE_RATE, 1, "PCM_16", SAMPLE_RATE)
    back = read_audio(path)
    assert back.dtype == np.float32 and back.shape == audio.shape
    assert np.abs(back[2:] - audio[2:]).max() < 2 / 32768
    assert back[0] == pytest.approx(1.0, abs=1e-4) and back[1] == -1.0
    assert not list(tmp_path.glob("a/*.tmp"))


def test_stereo_44k_becomes_mono_16k_keeping_the_frequency(tmp_path):
    left, right = sine(440, 1.0, 44100), np.zeros(44100, dtype=np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), np.stack([left, right], axis=1), 44100, subtype="PCM_16")
    mono = read_audio(path)
    assert mono.shape == (SAMPLE_RATE,)
    assert peak_hz(mono, SAMPLE_RATE) == pytest.approx(440, abs=2)
    assert np.abs(mono[1000:-1000]).max() == pytest.approx(0.25, abs=0.01)  # averaged with a silent channel


def test_ogg_vorbis_is_read(tmp_path):
    path = tmp_path / "x.ogg"
    sf.write(str(path), sine(300, 0.5, 22050), 22050, format="OGG", subtype="VORBIS")
    audio = read_audio(path)
    assert abs(len(audio) - SAMPLE_RATE // 2) <= 1 and peak_hz(audio, SAMPLE_RATE) == pytest.approx(300, abs=3)


def test_helpers():
    assert to_mono(np.ones((5, 2), dtype=np.float32)).shape == (5,)
    assert len(resample(np.zeros(8000, dtype=np.float32), 8000, 16000)) == 16000
    with pytest.raises(DataError, match="shape"):
        to_mono(np.zeros((2, 2, 2)))


def test_unreadable_and_empty_files_name_the_path(tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio at all")
    with pytest.raises(DataError, match=r"corrupt\.wav: not a readable audio file \("):
        read_audio(corrupt)
    with pytest.raises(DataError, match=r"missing\.wav: not a readable audio file \(no such file\)"):
        read_audio(tmp_path / "missing.wav")
    zero_bytes = tmp_path / "zero.wav"
    zero_bytes.write_bytes(b"")
    with pytest.raises(DataError, match=r"zero\.wav: not a readable audio file"):
        read_audio(zero_bytes)
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, dtype=np.float32))
    with pytest.raises(DataError, match=r"empty\.wav: empty audio"):
        read_audio(empty)


def test_silence_and_non_finite_audio_are_rejected():
    with pytest.raises(DataError, match="x: silent audio"):
        check_audio(np.zeros(1600, dtype=np.float32), SAMPLE_RATE, "x")
    with pytest.raises(DataError, match="silent audio"):
        check_audio(np.full(1600, 10 ** (-60 / 20), dtype=np.float32), SAMPLE_RATE, "x")
    check_audio(np.full(1600, 10 ** (-40 / 20), dtype=np.float32), SAMPLE_RATE, "x")
    with pytest.raises(DataError, match="NaN"):
        check_audio(np.array([0.5, np.nan], dtype=np.float32), SAMPLE_RATE, "x")
    with pytest.raises(DataError, match="empty"):
        check_audio(np.zeros(0, dtype=np.float32), SAMPLE_RATE, "x")


def test_chunks_cover_the_audio_exactly_and_cut_in_quiet_places():
    rng = np.random.default_rng(1)
    audio = rng.uniform(-0.5, 0.5, int(37.3 * SAMPLE_RATE)).astype(np.float32)
    gap = int(8.6 * SAMPLE_RATE)
    audio[gap : gap + 1600] = 0  # 100 ms pause inside the last quarter of the first 10 s window
    pieces = chunk_audio(audio, SAMPLE_RATE, 10.0)
    assert all(len(p) <= 10 * SAMPLE_RATE for _, p in pieces)
    assert [s for s, _ in pieces] == [0, *np.cumsum([len(p) for _, p in pieces])[:-1]]
    assert np.array_equal(np.concatenate([p for _, p in pieces]), audio)
    assert gap <= pieces[1][0] <= gap + 1600
    short = audio[: 3 * SAMPLE_RATE]
    assert [(s, len(p)) for s, p in chunk_audio(short, SAMPLE_RATE, 10.0)] == [(0, len(short))]
