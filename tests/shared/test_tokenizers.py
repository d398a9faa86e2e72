"""Character and BPE tokenizers: round trips, specials, JSON persistence."""

import json

import pytest

from shared.errors import TokenizerError
from shared.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID, BPETokenizer, CharTokenizer, RegexTokenizer, load_tokenizer

CORPUS = ["The quick brown fox jumps over the lazy dog.", "Pack my box with five dozen liquor jugs!"] * 30


def test_char_round_trip_and_specials(tmp_path):
    tok = CharTokenizer.train(CORPUS)
    ids = tok.encode("lazy fox", add_bos=True, add_eos=True)
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert tok.decode(ids) == "lazy fox"
    assert tok.encode("Z")[0] == UNK_ID  # capital Z never appears in the corpus
    tok.save(tmp_path / "t.json")
    again = load_tokenizer(tmp_path / "t.json")
    assert again.encode("jugs!") == tok.encode("jugs!") and again.vocab_size == tok.vocab_size


def test_decode_stops_at_eos_and_skips_padding():
    tok = CharTokenizer.train(["ab"])
    a, b = tok.encode("ab")
    assert tok.decode([BOS_ID, a, PAD_ID, b, EOS_ID, a]) == "ab"


def test_bpe_round_trip_and_persistence(tmp_path):
    tok = BPETokenizer.train(CORPUS, vocab_size=400, min_frequency=2)
    text = "The lazy fox packs über-jugs"  # unseen characters still round-trip (byte level)
    assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode("the quick brown fox")) < len("the quick brown fox")  # merges happened
    tok.save(tmp_path / "bpe.json")
    again = load_tokenizer(tmp_path / "bpe.json")
    assert again.encode(text) == tok.encode(text)
    assert json.loads((tmp_path / "bpe.json").read_text())["type"] == "bpe"


def test_regex_tokens_round_trip_and_persist(tmp_path):
    from apps.molecules.model import SMILES_PATTERN, train_tokenizer

    tok = train_tokenizer(["Clc1ccc[nH]1", "BrC[C@@H](N)C%10CC%10", "CCO"])
    assert tok.split("Clc1ccc[nH]1") == ["Cl", "c", "1", "c", "c", "c", "[nH]", "1"]
    assert tok.split("C[C@@H]%10Br") == ["C", "[C@@H]", "%10", "Br"]
    ids = tok.encode("ClCC[nH]", add_bos=True)
    assert ids[0] == BOS_ID and len(ids) == 5 and UNK_ID not in ids
    assert tok.decode(tok.encode("BrC[C@@H](N)C%10CC%10")) == "BrC[C@@H](N)C%10CC%10"
    assert tok.encode("[Se]I") == [UNK_ID, UNK_ID]  # unseen tokens, each one id
    tok.save(tmp_path / "tok.json")
    again = load_tokenizer(tmp_path / "tok.json")
    assert isinstance(again, RegexTokenizer) and again.pattern == SMILES_PATTERN and again.tokens == tok.tokens


def test_encode_batch_pads_right():
    tok = CharTokenizer.train(["abc"])
    batch = tok.encode_batch(["a", "abc"], add_eos=True)
    assert batch.shape == (2, 4) and batch[0, 2:].tolist() == [PAD_ID, PAD_ID]


def test_bad_tokenizer_files(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(TokenizerError, match="not valid JSON"):
        load_tokenizer(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(TokenizerError, match="not a Sextant tokenizer"):
        load_tokenizer(tmp_path / "y.json")
