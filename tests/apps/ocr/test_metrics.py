"""CER, WER and exact-line scores, and line-weighted overall scores over groups."""

import pytest

from apps.ocr.metrics import markdown_table, overall, scores


def test_scores_are_corpus_level_and_caseless_forgives_case():
    s = scores(["Hello world", "abc"], ["hello world", "abd"])
    assert s["cer"] == pytest.approx(2 / 14) and s["cer_caseless"] == pytest.approx(1 / 14)
    assert s["wer"] == pytest.approx(2 / 3) and s["wer_caseless"] == pytest.approx(1 / 3)
    assert s["exact"] == 0.0 and scores(["a  b"], ["a b"])["exact"] == 1.0


def test_overall_is_line_weighted_and_names_each_groups_cer():
    per_group = {"digits": {k: 0.1 for k in ("cer", "wer", "cer_caseless", "wer_caseless", "exact", "lines_per_s")},
                 "training fonts": {k: 0.4 for k in ("cer", "wer", "cer_caseless", "wer_caseless", "exact", "lines_per_s")}}
    out = overall(per_group, {"digits": 30, "training fonts": 10})
    assert out["cer"] == pytest.approx(0.175) and out["cer_digits"] == 0.1 and out["cer_training_fonts"] == 0.4
    table = markdown_table([{"model": "ours", "group": "digits", "lines": 30, **per_group["digits"]}])
    assert table.splitlines()[0].startswith("| model | group | lines | cer |") and "| ours | digits | 30 | 0.100 |" in table
