"""Phoneme sequences as strings of one character per phoneme.

espeak-ng's phonemes are often several characters long (``aI``, ``@U``). Writing each as one
character lets every string tool of the app (the character tokenizer, CTC training, forced
alignment, edit-distance metrics) work on phonemes unchanged. The mapping is built from the
training symbols and saved with the model as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_PRIVATE_USE = 0xE000  # multi-character phonemes get characters from Unicode's private use area


class PhonemeAlphabet:
    """Phoneme symbol <-> single character; ``" "`` (word boundary) maps to itself."""

    def __init__(self, symbols: Sequence[str]):
        self.symbols = list(symbols)
        self._to_char: dict[str, str] = {}
        next_code = _PRIVATE_USE
        for symbol in self.symbols:
            if len(symbol) == 1:
                self._to_char[symbol] = symbol
            else:
                self._to_char[symbol] = chr(next_code)
                next_code += 1
        self._to_symbol = {c: s for s, c in self._to_char.items()}

    @classmethod
    def from_sequences(cls, sequences: Iterable[Sequence[str]]) -> PhonemeAlphabet:
        return cls(sorted({s for seq in sequences for s in seq}))

    def encode(self, symbols: Sequence[str]) -> str:
        """One character per known phoneme (unknown phonemes are dropped)."""
        return "".join(self._to_char[s] for s in symbols if s in self._to_char)

    def decode(self, text: str) -> list[str]:
        return [self._to_symbol.get(c, c) for c in text]

    def readable(self, text: str) -> str:
        """Phonemes separated by spaces, words by `` | ``."""
        return " ".join("|" if s == " " else s for s in self.decode(text))

    def to_dict(self) -> dict:
        return {"symbols": self.symbols}

    @classmethod
    def from_dict(cls, data: dict) -> PhonemeAlphabet:
        return cls(data["symbols"])


def phoneme_strings(texts: list[str], alphabet: PhonemeAlphabet | None = None) -> tuple[list[str], PhonemeAlphabet]:
    """Normalised English texts -> one-character-per-phoneme strings (and the alphabet used; a new
    one from these texts' phonemes unless given)."""
    from apps.speech.text import normalize_english, phonemize

    sequences = phonemize([normalize_english(t) for t in texts])
    alphabet = alphabet or PhonemeAlphabet.from_sequences(sequences)
    return [alphabet.encode(s) for s in sequences], alphabet
