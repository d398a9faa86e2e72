"""Pretraining data: synthetic series (reproducible, finite, every family) and the extra real corpus."""

import numpy as np
import pytest

from apps.forecasting.datasets import DATASETS
from apps.forecasting.datasets.corpus import CORPUS, load_corpus
from apps.forecasting.datasets.synthetic import FAMILIES, SEASONS, _stable_coefficients, generate


def test_synthetic_series_are_reproducible_finite_and_cover_every_family():
    drawn = [generate(seed=3, index=i, length=96) for i in range(60)]
    assert {family for _, _, family in drawn} == set(FAMILIES)
    assert {season for _, season, _ in drawn} <= set(SEASONS)
    for values, _, _ in drawn:
        assert values.shape == (96,) and values.dtype == np.float32 and np.isfinite(values).all()
    again = generate(seed=3, index=7, length=96)
    np.testing.assert_array_equal(again[0], drawn[7][0])
    assert not np.array_equal(generate(seed=4, index=7, length=96)[0], drawn[7][0])
    assert np.mean([np.std(v) > 0 for v, _, _ in drawn]) > 0.9  # series move


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_draws_a_usable_series(family):
    rng = np.random.default_rng(0)
    for season in (1, 12):
        values = FAMILIES[family](rng, 120, season)
        assert values.shape == (120,) and np.isfinite(values).all()


def test_arma_coefficients_are_stationary():
    rng = np.random.default_rng(1)
    for order in range(1, 5):
        phi = _stable_coefficients(rng, order)
        companion_roots = np.roots(np.concatenate([[1.0], -phi]))
        assert len(phi) == order and np.all(np.abs(companion_roots) < 1)


def test_the_corpus_is_real_long_format_data_disjoint_from_the_benchmark():
    assert not set(CORPUS) & set(DATASETS)
    assert not set(CORPUS) & {"ausbeer", "woolyrnq", "lynx", "austres", "heartrate"}  # reserved
    frame = load_corpus()
    assert set(frame.columns) == {"unique_id", "ds", "y", "dataset"} and set(frame["dataset"]) == set(CORPUS)
    assert frame["y"].notna().all() and not frame.duplicated(["unique_id", "ds"]).any()
    lengths = frame.groupby("unique_id").size()
    assert lengths.min() >= 24 and len(lengths) > 200  # many series (fertility: one per country)
    elnino = frame[frame["unique_id"] == "elnino"]
    assert len(elnino) == 61 * 12 and elnino["ds"].is_monotonic_increasing
    with pytest.raises(KeyError, match="not in the corpus"):
        load_corpus(["airpassengers"])
