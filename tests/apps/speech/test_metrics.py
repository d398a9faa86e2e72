"""WER/CER on known cases, Levenshtein against a reference implementation, MCD behaviour."""

import random

import numpy as np
import pytest

from apps.speech.metrics import cer, dtw_path, edit_distance, error_rate, mel_cepstral_distortion, real_time_factor, wer
from shared.errors import DataError


def _slow_levenshtein(a, b) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_edit_distance_matches_the_textbook_dp():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3 and edit_distance("", "") == 0
    assert edit_distance(["the", "cat"], ["the", "bat", "sat"]) == 2
    rng = random.Random(0)
    for _ in range(200):
        a = [rng.choice("abc") for _ in range(rng.randint(0, 12))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 12))]
        assert edit_distance(a, b) == _slow_levenshtein(a, b)


def test_known_error_rates():
    refs = ["the cat sat on the mat", "hello world"]
    hyps = ["the cat sat on a mat", "hello  big world"]
    assert wer(refs, hyps) == pytest.approx(2 / 8)  # one substitution, one insertion
    # chars with single spaces: "the" -> "a" is 3 edits; " big" inserts 4 characters
    assert cer(refs, hyps) == pytest.approx(7 / (22 + 11))
    assert wer(["a b c"], ["a b c"]) == 0.0 and error_rate(["ab"], [""], unit="char") == 1.0
    with pytest.raises(DataError, match="2 references but 1"):
        wer(refs, hyps[:1])
    with pytest.raises(DataError, match="unit"):
        error_rate(refs, hyps, unit="phone")


def _speechy(seconds: float = 0.6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    f0 = 120 + 30 * np.sin(2 * np.pi * 2 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    return (0.2 * voiced + 0.001 * rng.normal(size=t.size)).astype(np.float32)


def test_mcd_is_zero_for_itself_and_grows_with_noise():
    clean = _speechy()
    assert mel_cepstral_distortion(clean, clean) == pytest.approx(0.0, abs=1e-6)
    rng = np.random.default_rng(1)
    scores = [mel_cepstral_distortion(clean, clean + level * rng.normal(size=clean.size).astype(np.float32))
              for level in (0.003, 0.03, 0.3)]
    assert 0 < scores[0] < scores[1] < scores[2]
    # a time-stretched copy (slower by 25%) is aligned by DTW, so it stays far closer than loud noise
    stretched = np.interp(np.arange(0, clean.size, 0.8), np.arange(clean.size), clean).astype(np.float32)
    assert mel_cepstral_distortion(clean, stretched) < scores[2]


def test_dtw_path_is_monotonic_and_finds_the_cheap_diagonal():
    cost = np.ones((5, 7))
    cost[[0, 1, 2, 3, 4], [0, 2, 3, 5, 6]] = 0.0
    path = dtw_path(cost)
    assert path[0] == (0, 0) and path[-1] == (4, 6)
    assert all(0 <= i2 - i1 <= 1 and 0 <= j2 - j1 <= 1 for (i1, j1), (i2, j2) in zip(path, path[1:]))
    assert sum(cost[i, j] for i, j in path) == 2.0


def test_real_time_factor():
    assert real_time_factor(0.5, 2.0) == 0.25
    with pytest.raises(DataError):
        real_time_factor(1.0, 0.0)
