"""Regex sentence splitting and word tokens, with no NLTK download.

A sentence ends at ``.``, ``!`` or ``?`` (with any closing quotes or brackets)
when whitespace and a capital, digit or opening quote follow, except after
common abbreviations (``e.g.``, ``Dr.``, ``Fig.``) and single initials
(``J. Smith``); a dot inside a number (``3.5``) never ends one. Blank lines (and
Debian's `` .`` lines) end paragraphs, and list items (``*``, ``-``, ``+`` or
Debian's ``o`` bullets) are sentences of their own.
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    "e.g i.e etc vs v dr mr mrs ms prof fig figs al no nos st jr sr cf approx ca inc ltd co corp resp dept "
    "est gen gov col lt sgt capt rev vol vols ed eds pp op".split()
)
_CLOSERS = "\"')]”’»"
_BULLET = re.compile(r"^\s*(?:[*\-+•·]|o)\s+(?=\S)")
_END = re.compile(r"([.!?]+[\"')\]”’»]*)\s+(?=[\"'“‘«(\[]?(\w))")
_WORD = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*")


def _ends_sentence(text: str, end: int, following: str) -> bool:
    """Whether the punctuation run ending at ``end`` closes a sentence, given the next word's first character."""
    if not (following.isupper() or following.isdigit()):
        return False
    head = text[:end].rstrip(_CLOSERS)
    if not head.endswith("."):
        return True  # "!" or "?"
    if head.endswith(".."):
        return True  # an ellipsis
    word = re.split(r"[\s(\[\"'“‘]", head[:-1])[-1]
    if len(word) == 1 and word.isalpha() and word.isupper():
        return False  # an initial: "J. Smith"
    return word.lower() not in ABBREVIATIONS


def _split_block(block: str) -> list[str]:
    """The sentences of one paragraph or list item (a single line of text)."""
    found, start = [], 0
    for match in _END.finditer(block):
        if _ends_sentence(block, match.end(1), match.group(2)):
            found.append(block[start:match.end(1)])
            start = match.end()
    found.append(block[start:])
    return [" ".join(s.split()) for s in found if s.strip()]


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order, whitespace collapsed, none empty."""
    sentences: list[str] = []
    block: list[str] = []
    bullet_indent = -1  # indentation of the list item being read; -1 outside a list item

    def flush() -> None:
        if block:
            sentences.extend(_split_block(" ".join(block)))
            block.clear()

    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped or stripped == ".":  # a blank line, or Debian's paragraph separator " ."
            flush()
            bullet_indent = -1
        elif _BULLET.match(line):
            flush()
            block.append(_BULLET.sub("", line, count=1).strip())
            bullet_indent = indent
        else:
            if 0 <= bullet_indent and indent <= bullet_indent:  # a line back out of the list item
                flush()
                bullet_indent = -1
            block.append(stripped)
    flush()
    return sentences


def words(text: str) -> list[str]:
    """Word tokens: letters and digits, with inner apostrophes, hyphens and dots (``don't``, ``3.5``, ``node.js``)."""
    return _WORD.findall(text)


def normalize(text: str) -> str:
    """One space between words: line breaks and indentation carry no meaning for the model."""
    return " ".join(text.split())
