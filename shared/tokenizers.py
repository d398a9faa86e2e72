"""Character, regex and byte-level BPE tokenizers, trainable on a corpus, saved as JSON.

All share the special ids every core model assumes: ``<pad>`` 0, ``<bos>`` 1,
``<eos>`` 2, ``<unk>`` 3. The BPE tokenizer is the Hugging Face ``tokenizers``
library's (fast, Rust); it is stored inside our JSON with its own
``to_str()`` serialisation, so loading never unpickles anything.
"""

from __future__ import annotations

import abc
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from shared.errors import TokenizerError

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
FORMAT = "sextant-tokenizer/1"


class Tokenizer(abc.ABC):
    """Text <-> ids with the shared special-token layout."""

    kind: str
    pad_id, bos_id, eos_id, unk_id = PAD_ID, BOS_ID, EOS_ID, UNK_ID

    @property
    @abc.abstractmethod
    def vocab_size(self) -> int: ...

    @abc.abstractmethod
    def _encode(self, text: str) -> list[int]: ...

    @abc.abstractmethod
    def _decode(self, ids: list[int]) -> str: ...

    @abc.abstractmethod
    def _payload(self) -> dict[str, Any]: ...

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        ids = self._encode(text)
        return ([self.bos_id] if add_bos else []) + ids + ([self.eos_id] if add_eos else [])

    def decode(self, ids: Iterable[int], stop_at_eos: bool = True) -> str:
        """Text for ``ids``, dropping special tokens (and anything after EOS)."""
        kept = []
        for i in ids:
            i = int(i)
            if i == self.eos_id and stop_at_eos:
                break
            if i >= len(SPECIAL_TOKENS) or i == self.unk_id:
                kept.append(i)
        return self._decode(kept)

    def encode_batch(self, texts: Sequence[str], add_bos: bool = False, add_eos: bool = False, max_len: int | None = None) -> Tensor:
        """Right-padded ``[B, T]`` ids (truncated to ``max_len`` if given)."""
        rows = [self.encode(t, add_bos, add_eos)[:max_len] for t in texts]
        return pad_sequences(rows, self.pad_id)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "type": self.kind, **self._payload()}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False))


def pad_sequences(rows: Sequence[Sequence[int]], pad_id: int = PAD_ID) -> Tensor:
    """Right-pad lists of ids into a ``[B, T]`` long tensor."""
    width = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            out[i, : len(row)] = torch.as_tensor(row, dtype=torch.long)
    return out


class CharTokenizer(Tokenizer):
    """One id per character; unseen characters map to ``<unk>``."""

    kind = "char"

    def __init__(self, chars: Sequence[str]):
        if len(set(chars)) != len(chars):
            raise TokenizerError("character vocabulary has duplicates")
        self.chars = list(chars)
        self._index = {c: i + len(SPECIAL_TOKENS) for i, c in enumerate(self.chars)}

    @classmethod
    def train(cls, texts: Iterable[str], min_count: int = 1, max_size: int | None = None) -> CharTokenizer:
        """Keep characters seen at least ``min_count`` times, most frequent first."""
        counts = Counter(c for text in texts for c in text)
        ranked = sorted((c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c))
        return cls(ranked[:max_size] if max_size else ranked)

    @property
    def vocab_size(self) -> int:
        return len(SPECIAL_TOKENS) + len(self.chars)

    def _encode(self, text: str) -> list[int]:
        return [self._index.get(c, self.unk_id) for c in text]

    def _decode(self, ids: list[int]) -> str:
        n = len(SPECIAL_TOKENS)
        return "".join("\ufffd" if i == self.unk_id else self.chars[i - n] for i in ids if i < self.vocab_size)

    def _payload(self) -> dict[str, Any]:
        return {"chars": self.chars}


class RegexTokenizer(Tokenizer):
    """One id per token that a regular expression finds (e.g. chemical element symbols: ``Cl``, ``[nH]``); the
    pattern is tried left to right, a single character is the fallback, unseen tokens map to ``<unk>``."""

    kind = "regex"

    def __init__(self, pattern: str, tokens: Sequence[str]):
        if len(set(tokens)) != len(tokens):
            raise TokenizerError("token vocabulary has duplicates")
        self.pattern = pattern
        self._regex = re.compile(f"{pattern}|.", re.DOTALL)
        self.tokens = list(tokens)
        self._index = {t: i + len(SPECIAL_TOKENS) for i, t in enumerate(self.tokens)}

    def split(self, text: str) -> list[str]:
        return self._regex.findall(text)

    @classmethod
    def train(cls, texts: Iterable[str], pattern: str, min_count: int = 1) -> RegexTokenizer:
        """Keep tokens seen at least ``min_count`` times, most frequent first."""
        regex = re.compile(f"{pattern}|.", re.DOTALL)
        counts = Counter(t for text in texts for t in regex.findall(text))
        return cls(pattern, sorted((t for t, n in counts.items() if n >= min_count), key=lambda t: (-counts[t], t)))

    @property
    def vocab_size(self) -> int:
        return len(SPECIAL_TOKENS) + len(self.tokens)

    def _encode(self, text: str) -> list[int]:
        return [self._index.get(t, self.unk_id) for t in self.split(text)]

    def _decode(self, ids: list[int]) -> str:
        n = len(SPECIAL_TOKENS)
        return "".join("\ufffd" if i == self.unk_id else self.tokens[i - n] for i in ids if i < self.vocab_size)

    def _payload(self) -> dict[str, Any]:
        return {"pattern": self.pattern, "tokens": self.tokens}


class BPETokenizer(Tokenizer):
    """Byte-level BPE (GPT-2 style) from the ``tokenizers`` library."""

    kind = "bpe"

    def __init__(self, backend: Any):
        self.backend = backend
        for i, token in enumerate(SPECIAL_TOKENS):
            if backend.token_to_id(token) != i:
                raise TokenizerError(f"BPE vocabulary must put {token} at id {i}")

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 8000, min_frequency: int = 2,
              extra_tokens: Sequence[str] = ()) -> BPETokenizer:
        """Learn merges from ``texts``; ``extra_tokens`` (e.g. a mask token) follow the four shared
        specials as unsplittable tokens."""
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        backend = HFTokenizer(models.BPE(unk_token="<unk>"))
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=[*SPECIAL_TOKENS, *extra_tokens],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        backend.train_from_iterator(texts, trainer=trainer)
        return cls(backend)

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size()

    def _encode(self, text: str) -> list[int]:
        return self.backend.encode(text, add_special_tokens=False).ids

    def _decode(self, ids: list[int]) -> str:
        return self.backend.decode(ids, skip_special_tokens=True)

    def _payload(self) -> dict[str, Any]:
        return {"backend": json.loads(self.backend.to_str())}


def tokenizer_from_dict(data: dict[str, Any]) -> Tokenizer:
    """Rebuild a tokenizer from :meth:`Tokenizer.to_dict` output."""
    if data.get("format") != FORMAT:
        raise TokenizerError(f"not a Sextant tokenizer (format {data.get('format')!r})")
    if data.get("type") == "char":
        return CharTokenizer(data["chars"])
    if data.get("type") == "regex":
        return RegexTokenizer(data["pattern"], data["tokens"])
    if data.get("type") == "bpe":
        from tokenizers import Tokenizer as HFTokenizer

        return BPETokenizer(HFTokenizer.from_str(json.dumps(data["backend"])))
    raise TokenizerError(f"unknown tokenizer type {data.get('type')!r}")


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a tokenizer saved with :meth:`Tokenizer.save`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TokenizerError(f"tokenizer file not found: {path}") from None
    except json.JSONDecodeError as err:
        raise TokenizerError(f"{path}: not valid JSON ({err.msg})") from None
    return tokenizer_from_dict(data)
