"""Character n-gram LM: proper distributions, JSON round trip, preference for seen text."""

import json

import numpy as np
import pytest

from shared.char_lm import CharNgramLM
from shared.errors import DataError

ALPHABET = "abcdefghijklmnopqrstuvwxyz' "
TEXTS = [
    "the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "it's the cat's hat",
    "the quick brown fox jumps over the lazy dog", "dogs and cats", "the mat is flat",
] * 3


@pytest.mark.parametrize("order", [1, 2, 4, 6])
def test_distributions_sum_to_one_for_any_history(order):
    lm = CharNgramLM.train(TEXTS, order=order, alphabet=ALPHABET)
    for history in ["", "t", "the ca", "zzqx", "the cat sat on the mat", "'''", " "]:
        probs = np.exp(lm.next_log_probs(history))
        assert probs.shape == (len(ALPHABET) + 1,)
        assert abs(probs.sum() - 1.0) < 1e-9 and probs.min() > 0
        assert lm.log_prob(history, lm.EOS) == pytest.approx(np.log(probs[-1]))


def test_json_round_trip_gives_identical_probabilities(tmp_path):
    lm = CharNgramLM.train(TEXTS, order=5, alphabet=ALPHABET)
    lm.save(tmp_path / "lm.json")
    again = CharNgramLM.load(tmp_path / "lm.json")
    assert again.to_dict() == json.loads((tmp_path / "lm.json").read_text())
    for history in ["", "the c", "qqq", "dogs and c"]:
        assert np.array_equal(lm.next_log_probs(history), again.next_log_probs(history))
    assert CharNgramLM.from_dict(lm.to_dict()).score("the cat") == lm.score("the cat")


def test_trained_model_prefers_seen_text():
    lm = CharNgramLM.train(TEXTS, order=4, alphabet=ALPHABET)
    assert lm.score("the cat sat on the mat") > lm.score("the tac tas no eht tam")
    assert lm.log_prob("the ca", "t") > lm.log_prob("the ca", "q")
    assert lm.log_prob("the mat", lm.EOS) > lm.log_prob("the m", lm.EOS)
    assert lm.perplexity(["the cat sat on the log"]) < lm.perplexity(["xq zvw jjk"])


def test_clear_errors():
    with pytest.raises(DataError, match="outside the alphabet"):
        CharNgramLM.train(["Hello"], alphabet=ALPHABET)
    lm = CharNgramLM.train(TEXTS, order=3)
    with pytest.raises(DataError, match="not in the alphabet"):
        lm.log_prob("the", "Z")
    with pytest.raises(DataError, match="not a"):
        CharNgramLM.from_dict({"format": "other"})
