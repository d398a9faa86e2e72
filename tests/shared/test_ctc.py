"""CTC greedy and beam decoding, LM shallow fusion, and forced-alignment durations."""


import numpy as np
import pytest
import torch

from shared.ctc import beam_search, forced_align_durations, greedy_decode
from shared.char_lm import CharNgramLM


def _log(rows: list[list[float]]) -> np.ndarray:
    probs = np.asarray(rows, dtype=np.float64)
    return np.log(probs / probs.sum(axis=1, keepdims=True))


def _peaked(path: list[int], vocab: int, peak: float = 0.9) -> np.ndarray:
    probs = np.full((len(path), vocab), (1 - peak) / (vocab - 1))
    probs[np.arange(len(path)), path] = peak
    return np.log(probs)


def test_greedy_and_beam_agree_on_a_peaked_distribution():
    lp = _peaked([0, 1, 1, 0, 2, 0, 2, 2, 3, 0], vocab=5)
    assert greedy_decode(lp) == [1, 2, 2, 3]
    assert beam_search(lp, beam_size=8) == [1, 2, 2, 3]
    assert greedy_decode(torch.tensor(lp), length=4) == [1]
    assert beam_search(torch.tensor(lp), length=4) == [1]


def test_beam_sums_over_alignments_and_beats_the_best_path():
    # best single path is blank-blank (0.36), but "a" has a-a + a-blank + blank-a = 0.64
    lp = _log([[0.6, 0.4], [0.6, 0.4]])
    assert greedy_decode(lp) == []
    assert beam_search(lp, beam_size=4) == [1]


def test_lm_fusion_moves_an_ambiguous_output_towards_the_lm():
    id_to_char = ["_", "a", "b", "c", "d", " "]
    lm = CharNgramLM.train(["abc", "abc abc", "cab abc"] * 20, order=3, alphabet="abcd ")
    # "a", "b", then a near-tie between "d" (slightly ahead) and "c"
    lp = _log([[0.05, 0.9, 0.01, 0.01, 0.01, 0.02], [0.9, 0.02, 0.02, 0.02, 0.02, 0.02],
               [0.05, 0.01, 0.9, 0.01, 0.01, 0.02], [0.1, 0.01, 0.01, 0.40, 0.46, 0.02]])
    assert beam_search(lp) == [1, 2, 4]
    assert beam_search(lp, lm=lm, id_to_char=id_to_char, lm_weight=0.5) == [1, 2, 3]
    with pytest.raises(ValueError, match="id_to_char"):
        beam_search(lp, lm=lm)
    with pytest.raises(ValueError, match=r"missing from the LM alphabet: \['e'\]"):
        beam_search(lp, lm=lm, id_to_char=["_", "a", "b", "c", "e", " "])


def test_lm_fusion_skips_special_tokens_and_scores_multichar_tokens():
    lm = CharNgramLM.train(["abc", "abc abc"] * 20, order=3, alphabet="abc ")
    # id 1 is a special token (no text); id 2 decodes to "ab"
    id_to_char = {2: "ab", 3: "c", 4: " "}
    lp = _log([[0.05, 0.5, 0.4, 0.03, 0.02], [0.9, 0.04, 0.02, 0.02, 0.02], [0.1, 0.02, 0.02, 0.84, 0.02]])
    assert beam_search(lp) == [1, 3]
    assert beam_search(lp, lm=lm, id_to_char=id_to_char) == [2, 3]


def test_durations_follow_the_alignment_and_sum_to_T():
    path = [0, 1, 1, 0, 2, 0, 2, 0, 0, 3]
    lp = torch.tensor(_peaked(path, vocab=5, peak=0.95), dtype=torch.float32)
    # leading blank -> token 0; one blank: 1 to the token before; two blanks: split 1/1
    assert forced_align_durations(lp, [1, 2, 2, 3]) == [4, 2, 2, 2]
    assert sum(forced_align_durations(torch.randn(37, 6).log_softmax(-1), [1, 2, 2, 5, 3])) == 37


def test_durations_reject_too_few_frames():
    lp = torch.randn(4, 5).log_softmax(-1)
    assert forced_align_durations(lp, [1, 2, 3, 4]) == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="needs 5"):
        forced_align_durations(lp, [1, 1, 2, 3])
    with pytest.raises(ValueError, match="non-blank"):
        forced_align_durations(lp, [0, 1])
