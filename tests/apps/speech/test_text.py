"""Text: English normalisation (numbers, abbreviations), other languages, sentences, espeak-ng phonemes."""

import shutil

import pytest

from apps.speech.text import (
    normalize_english,
    normalize_transcript,
    number_to_words,
    ordinal_to_words,
    phonemize,
    split_sentences,
)


@pytest.mark.parametrize("text, spoken", [
    ("In 1998 and 2005", "in nineteen ninety eight and two thousand five"),
    ("1905, 1900, 1000, 2024, 0, 15, 100", "nineteen oh five nineteen hundred one thousand two thousand twenty four "
                                            "zero fifteen one hundred"),
    ("3.5 kg and 0.25", "three point five kg and zero point two five"),
    ("1,234,567", "one million two hundred thirty four thousand five hundred sixty seven"),
    ("the 1st, 2nd, 3rd, 21st and 112th", "the first second third twenty first and one hundred twelfth"),
    ("12% & 5+3", "twelve percent and five plus three"),
    ("$3.50", "three point five zero dollars"),
    ("the 1990s and 1998's", "the nineteen nineties and nineteen ninety eight's"),
    ("pages 5-10", "pages five to ten"),
])
def test_numbers(text, spoken):
    assert normalize_english(text) == spoken


def test_number_words():
    assert number_to_words(2005) == "two thousand five"
    assert number_to_words(10**9 + 7) == "one billion seven"
    assert ordinal_to_words(40) == "fortieth" and ordinal_to_words(12) == "twelfth"


def test_abbreviations_punctuation_and_accents():
    assert normalize_english("E.g. this, i.e. that, etc.") == "for example this that is that et cetera"
    assert normalize_english("Dr. Who vs. Mr. and Mrs. Smith, approx. No. 5") == \
        "doctor who versus mister and missus smith approximately number five"
    assert normalize_english("State-of-the-art input/output (LLMs) don't \"quote\" 'it'") == \
        "state of the art input output llms don't quote it"
    assert normalize_english("Café naïve Straße") == "cafe naive strasse"
    assert set(normalize_english("Ünïcödé — “text” ½ 中文 §1")) <= set("abcdefghijklmnopqrstuvwxyz' ")


def test_other_languages_keep_accented_letters_and_digits():
    assert normalize_transcript("Dat is het wrak van LC-10! Z'n 'oog'.", "nl") == "dat is het wrak van lc 10 z'n oog"
    assert normalize_transcript("Tohle není fér, měl jsem volnou cestu…", "cs") == "tohle není fér měl jsem volnou cestu"
    assert normalize_transcript("Dr. No", "en") == "doctor no"


def test_sentence_splitting():
    text = ("Dr. Smith met J. R. Tolkien in 2001. It cost 3.5 dollars, e.g. Cheap! Was it? "
            "\"Yes.\" See Fig. 2 in Smith et al. The end\n * a bullet")
    assert split_sentences(text) == [
        "Dr. Smith met J. R. Tolkien in 2001.", "It cost 3.5 dollars, e.g. Cheap!", "Was it?", "\"Yes.\"",
        "See Fig. 2 in Smith et al. The end", "* a bullet"]
    assert split_sentences("lower. case stays together") == ["lower. case stays together"]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_phonemize_gives_word_separated_phonemes_one_entry_per_text():
    texts = ["Hello world", "This is a test, with a clause. And a second sentence!", "", "..."]
    hello, long, empty, dots = phonemize(texts)
    assert hello == ["h", "ə", "l", "ˈ", "oʊ", " ", "w", "ˈ", "ɜː", "l", "d"]
    assert empty == [] and dots == []
    words = " ".join("|" if p == " " else p for p in long).split("|")
    assert 7 <= len(words) <= 11 and all(w.strip() for w in words)  # espeak-ng may join short words
    plain = phonemize(texts[:1], stress=False)[0]
    assert plain == [p for p in hello if p not in "ˈˌ"]
    assert phonemize(["Goedemorgen"], voice="nl")[0]
