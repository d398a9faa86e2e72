"""Rendered lines and digit strings: deterministic, inked, honest about what the font shows."""

import numpy as np
import pytest

from apps.ocr.datasets.digits import TEST_EVERY, digit_bank, random_digit_string, render_digit_string
from apps.ocr.datasets.fonts import FAMILIES, can_draw, family_fonts, font_charset, written_text
from apps.ocr.datasets.render import render_line
from shared.errors import DataError


def test_the_renderer_is_deterministic_for_a_seed():
    font = family_fonts("kristi")[0]
    a = render_line("Perl interface for sets", font, np.random.default_rng(7))
    b = render_line("Perl interface for sets", font, np.random.default_rng(7))
    c = render_line("Perl interface for sets", font, np.random.default_rng(8))
    assert a.dtype == np.uint8 and a.ndim == 2 and np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)


def test_a_line_has_dark_ink_on_light_paper_and_grows_with_its_text():
    font = family_fonts("comic-neue")[0]
    short = render_line("tool", font, np.random.default_rng(0))
    long = render_line("a much longer line of text for the tool", font, np.random.default_rng(0))
    assert long.shape[1] > 3 * short.shape[1]
    assert np.percentile(short, 95) > 150 and short.min() < 110


def test_capitals_only_fonts_label_their_lines_in_capitals():
    bwht = family_fonts("bwht")[0]
    assert FAMILIES["bwht"].capitals_only and written_text(bwht, "Go library") == "GO LIBRARY"
    assert written_text(family_fonts("kristi")[0], "Go library") == "Go library"


def test_fonts_know_their_glyphs():
    ecolier = family_fonts("ecolier-court")[0]
    assert "a" in font_charset(ecolier.path) and "~" not in font_charset(ecolier.path)
    assert can_draw(ecolier, "plain text") and not can_draw(ecolier, "a ~ b")
    with pytest.raises(DataError, match="unknown font family"):
        family_fonts("helvetica")
    with pytest.raises(DataError, match="empty"):
        render_line("  ", ecolier, np.random.default_rng(0))


def test_digit_strings_use_real_digits_with_disjoint_test_images():
    train, test = digit_bank("train"), digit_bank("test")
    n_train, n_test = (sum(len(v) for v in b.images.values()) for b in (train, test))
    assert n_test * (TEST_EVERY - 1) == pytest.approx(n_train, rel=0.02) and n_train + n_test > 6700
    assert all(len(test.images[d]) > 50 for d in range(10))
    rng = np.random.default_rng(3)
    texts = {random_digit_string(rng) for _ in range(50)}
    assert any("/" in t or "-" in t for t in texts) and all(any(ch.isdigit() for ch in t) for t in texts)
    font = family_fonts("kristi")[0]
    a = render_digit_string("12/03/2024", test, font, np.random.default_rng(1))
    b = render_digit_string("12/03/2024", test, font, np.random.default_rng(1))
    assert np.array_equal(a, b) and a.shape[1] > 2 * a.shape[0]


def test_make_installs_every_font_package():
    from pathlib import Path

    from apps.ocr.datasets.fonts import DEBIAN_PACKAGES

    makefile = (Path(__file__).resolve().parents[3] / "Makefile").read_text()
    assert all(package in makefile for package in (*DEBIAN_PACKAGES, "tesseract-ocr"))


def test_training_lines_can_be_cut_at_word_boundaries():
    from apps.ocr.datasets.rendered import first_words

    assert first_words("Go library for fast lookups", 14) == "Go library for"
    assert first_words("short", 14) == "short" and first_words("unbreakablelongword", 5) == ""
