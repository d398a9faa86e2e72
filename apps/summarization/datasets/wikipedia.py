"""Long documents: Wikipedia articles (body -> lead section) from the dump inside the gensim wheel
(a test-only transfer set).

gensim ships a shortened English Wikipedia dump (and the Lee corpus, :mod:`.lee`) as test
data; only the files are read, gensim is never imported. Wikitext is cleaned by
a small scanner: references, tables, files, categories and most templates are
dropped (a few inline ones such as ``{{convert}}`` and ``{{lang}}`` keep their
text), links keep their label. An article's lead (the text before its first
heading) is the reference summary of its body (the other sections, less the
reference-list ones such as "See also" and "References").
"""

from __future__ import annotations

import bz2
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from shared.errors import DataError
from shared.package_data import package_dir

DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
SKIPPED_SECTIONS = frozenset({"see also", "references", "external links", "further reading", "notes", "bibliography",
                              "sources", "footnotes", "citations", "notes and references", "references and notes"})
DATE_TEMPLATES = frozenset({"birth date", "death date", "birth date and age", "death date and age", "start date",
                            "end date", "birth year and age", "death year and age", "dts", "date"})
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
DROPPED_LINK_PREFIXES = frozenset({"file", "image", "category", "media"})

_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_REF = re.compile(r"<ref\b[^>]*?/>|<ref\b[^>]*?(?<!/)>.*?</ref\s*>", re.DOTALL | re.IGNORECASE)
_DROPPED_ELEMENTS = re.compile(r"<(gallery|math|timeline|source|syntaxhighlight|score|hiero|imagemap|chem|ce)\b"
                               r"[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_TEMPLATE_BRACES = re.compile(r"\{\{|\}\}")
_TABLE_BRACES = re.compile(r"^[ \t]*\{\||\|\}", re.MULTILINE)
_TABLE_START = re.compile(r"^[ \t]*\{\|", re.MULTILINE)
_LINK_BRACKETS = re.compile(r"\[\[|\]\]")
_LINK_OR_PIPE = re.compile(r"\[\[|\]\]|\|")
_EXTERNAL = re.compile(r"\[(?:https?:|ftp:)?//[^\s\]]*(?:\s+([^\]]*))?\]")
_QUOTES = re.compile(r"'{2,5}")
_MAGIC = re.compile(r"__[A-Z]+__")
_HEADING = re.compile(r"^(={2,6})\s*(.*?)\s*\1\s*$")
_LIST = re.compile(r"^[*#:;]+\s*")
_NAMED_PARAM = re.compile(r"^\s*[\w\- ]+\s*=")
_INTERWIKI = re.compile(r"^[a-z][a-z\-]{1,11}:")
_DISAMBIGUATION = re.compile(r"\{\{\s*(?:[a-z ]*disambiguation|disambig|dab|hndis|geodis)\s*(?:\||\}\})", re.IGNORECASE)


def gensim_test_file(name: str) -> Path:
    """A file of gensim's test data, found without importing gensim."""
    path = package_dir("gensim") / "test" / "test_data" / name
    if not path.is_file():
        raise DataError(f"{path} not found: the gensim wheel ships it (make install)")
    return path


def _closing(pattern: re.Pattern, text: str, start: int) -> int:
    """The index just past the bracket that closes the one opened at ``start``; -1 if it never closes."""
    depth = 0
    for match in pattern.finditer(text, start):
        opening = match.group().lstrip()[0] in "{["
        depth += 1 if opening else -1
        if depth == 0:
            return match.end()
    return -1


def _split_params(inner: str) -> list[str]:
    """A template's name and parameters: ``inner`` split at pipes that are not inside a ``[[link|label]]``."""
    parts, depth, start = [], 0, 0
    for match in _LINK_OR_PIPE.finditer(inner):
        token = match.group()
        if token == "[[":
            depth += 1
        elif token == "]]":
            depth = max(depth - 1, 0)
        elif depth == 0:
            parts.append(inner[start:match.start()])
            start = match.end()
    parts.append(inner[start:])
    return parts


def _date(args: list[str]) -> str:
    """``1815|12|10`` as "10 December 1815" (or as much of it as is given)."""
    parts = [a for a in args[:3] if a.isdigit()]
    if len(parts) >= 2 and 1 <= int(parts[1]) <= 12:
        month = MONTHS[int(parts[1]) - 1]
        return f"{int(parts[2])} {month} {parts[0]}" if len(parts) == 3 else f"{month} {parts[0]}"
    return parts[0] if parts else ""


def _render_template(inner: str) -> str:
    """The text a handful of inline templates show (units, foreign words, spacing); every other template is dropped."""
    name, *params = _split_params(inner)
    name = name.strip().lower().replace("_", " ")
    args = [p.strip() for p in params if not _NAMED_PARAM.match(p)]
    named = dict(p.split("=", 1) for p in params if _NAMED_PARAM.match(p))
    named = {k.strip(): v.strip() for k, v in named.items()}
    if name in ("convert", "cvt") and args:
        if len(args) >= 4 and args[1] in ("-", "–", "to", "and", "or", "by", "x", "×", "+/-", "±"):
            return f"{args[0]} {args[1]} {args[2]} {args[3]}"
        return " ".join(args[:2])
    if name in ("lang", "transl", "script") and args:
        return args[-1]
    if (name.startswith("lang-") or name in ("nihongo", "flag", "flagcountry", "vanchor", "abbr", "mvar", "math",
                                                "angbr", "small", "smaller", "midsize", "big", "larger", "nowrap", "nobr",
                                                "sc", "smallcaps", "sic", "not a typo", "linktext")) and args:
        return args[0]
    if name == "val" and args:
        return f"{args[0]} {named.get('u', '')}".strip()
    if name == "chem":
        return "".join(args)
    if name == "respell":
        return "-".join(args)
    if name == "frac" and args:
        whole, fraction = (args[0] + " ", args[1:3]) if len(args) >= 3 else ("", args if len(args) == 2 else ["1", *args])
        return whole + "/".join(fraction)
    if name in DATE_TEMPLATES and args:
        return _date(args)
    if name == "oldstyledate" and len(args) >= 2:
        return f"{args[0]}, {args[1]}"
    if name in ("circa", "c.") and args:
        return f"c. {args[0]}"
    if name == "as of" and args:
        return ("as of " if named.get("lc") else "As of ") + " ".join(args[:3])
    return {"nbsp": " ", "'s": "'s", "'": "'", "snd": " – ", "spaced ndash": " – ", "ndash": "–", "mdash": "—",
            "spaced en dash": " – ", "dash": " – "}.get(name, "")


def _templates(text: str) -> str:
    """``text`` with every (possibly nested) ``{{template}}`` rendered by :func:`_render_template`."""
    out, pos = [], 0
    while (start := text.find("{{", pos)) >= 0:
        out.append(text[pos:start])
        end = _closing(_TEMPLATE_BRACES, text, start)
        if end < 0:  # never closed: drop the stray braces only
            pos = start + 2
            continue
        out.append(_render_template(_templates(text[start + 2:end - 2])))
        pos = end
    out.append(text[pos:])
    return "".join(out).replace("}}", "")


def _tables(text: str) -> str:
    """``text`` without ``{| tables |}`` (nested ones too)."""
    out, pos = [], 0
    while (match := _TABLE_START.search(text, pos)) is not None:
        start = match.start()
        out.append(text[pos:start])
        end = _closing(_TABLE_BRACES, text, start)
        pos = len(text) if end < 0 else end
    out.append(text[pos:])
    return "".join(out)


def _link_text(inner: str) -> str:
    """What a ``[[link]]`` shows: its label, or its target; nothing for files, categories and interlanguage links."""
    target, _, label = inner.partition("|")
    target = target.strip()
    prefix = target.lstrip(":").split(":", 1)[0].strip().lower() if ":" in target else ""
    if prefix in DROPPED_LINK_PREFIXES and not target.startswith(":"):
        return ""  # caption and all
    if label:
        return label.rsplit("|", 1)[-1].strip() if "|" in label else label.strip()
    if _INTERWIKI.match(target):
        return ""  # [[de:Anarchismus]]
    page, _, anchor = target.lstrip(":").partition("#")
    return page or anchor


def _links(text: str) -> str:
    """``text`` with ``[[target|label]]`` as its label (links nested in file captions are dropped with the file)."""
    out, pos = [], 0
    while (start := text.find("[[", pos)) >= 0:
        out.append(text[pos:start])
        end = _closing(_LINK_BRACKETS, text, start)
        if end < 0:
            pos = start + 2
            continue
        out.append(_link_text(_links(text[start + 2:end - 2])))
        pos = end
    out.append(text[pos:])
    return "".join(out).replace("]]", "")


def _tidy(paragraph: str) -> str:
    """One paragraph with whitespace collapsed and the punctuation left behind by dropped markup removed."""
    text = " ".join(paragraph.split())
    for _ in range(2):  # nested leftovers such as "(; , )"
        text = re.sub(r"\(\s*[,;:.\-–—\s]*\)", "", text)  # empty brackets
        text = re.sub(r"\(\s*[,;:]+\s*", "(", text)  # "(; born 1900)" -> "(born 1900)"
        text = re.sub(r"\s*[,;:]+\s*\)", ")", text)
        text = re.sub(r"\s+([,;:.!?)](?![\d.]))", r"\1", text)  # no space before punctuation ("x ." -> "x.")
        text = re.sub(r"\(\s+", "(", text)
        text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)  # ", ," -> ","
        text = re.sub(r"^(?:[,;:]|\.(?!\.))\s*", "", text)  # a paragraph that began with a dropped formula
    return " ".join(text.split())


def clean_wikitext(markup: str) -> str:
    """Plain-text paragraphs separated by blank lines; section headings stay as ``== Title ==`` paragraphs."""
    text = _COMMENT.sub("", markup)
    text = _REF.sub("", text)
    text = _DROPPED_ELEMENTS.sub("", text)
    text = _templates(text)
    text = _tables(text)
    text = _links(text)
    text = _EXTERNAL.sub(lambda m: m.group(1) or "", text)
    text = _BREAK.sub(" ", text)
    text = _TAG.sub("", text)
    text = _MAGIC.sub("", _QUOTES.sub("", text))
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for line in text.splitlines():
        line = line.strip()
        if _HEADING.match(line):
            flush()
            paragraphs.append(line)
        elif not line or line.startswith("----"):
            flush()
        elif _LIST.match(line):  # a list or indented item is a paragraph of its own
            flush()
            current.append(_LIST.sub("", line))
            flush()
        elif not line.startswith(("|", "!")):  # table rows left by unbalanced markup
            current.append(line)
    flush()
    cleaned = [_tidy(html.unescape(p)) for p in paragraphs]
    return "\n\n".join(p for p in cleaned if p and any(c.isalnum() for c in p))


def _skipped(heading: str) -> bool:
    """Whether a section holds references or links rather than prose ("Notes and references", "See also")."""
    parts = [p.strip() for p in re.split(r",|&|\band\b", heading.lower())]
    return heading.lower() in SKIPPED_SECTIONS or all(p in SKIPPED_SECTIONS for p in parts if p)


def lead_and_body(text: str) -> tuple[str, str]:
    """The lead (paragraphs before the first heading) and body (later sections, less skipped ones, no headings)."""
    lead: list[str] = []
    body: list[str] = []
    seen_heading, keep = False, True
    for paragraph in text.split("\n\n"):
        heading = _HEADING.match(paragraph)
        if heading:
            seen_heading = True
            if len(heading.group(1)) == 2:
                keep = not _skipped(heading.group(2))
            elif _skipped(heading.group(2)):
                keep = False
            continue
        if not seen_heading:
            lead.append(paragraph)
        elif keep:
            body.append(paragraph)
    return "\n\n".join(lead), "\n\n".join(body)


def _pages(path: Path) -> Iterator[tuple[str, str, bool, str]]:
    """``(title, namespace, is_redirect, wikitext)`` for each page of a MediaWiki XML dump, streamed."""
    title, namespace, redirect, markup = "", "", False, ""
    with bz2.open(path, "rb") as stream:
        try:
            for _, element in ET.iterparse(stream, events=("end",)):
                tag = element.tag.rsplit("}", 1)[-1]  # drop the export-schema namespace
                if tag == "title":
                    title = element.text or ""
                elif tag == "ns":
                    namespace = (element.text or "").strip()
                elif tag == "redirect":
                    redirect = True
                elif tag == "text":
                    markup = element.text or ""
                elif tag == "page":
                    yield title, namespace, redirect, markup
                    title, namespace, redirect, markup = "", "", False, ""
                    element.clear()
        except (ET.ParseError, OSError, EOFError) as error:
            raise DataError(f"{path}: not a readable bz2 MediaWiki dump ({error})") from None


def article_pairs(path: Path | None = None, min_body_words: int = 300, min_lead_words: int = 20) -> list[dict]:
    """``{"id": title, "document": body, "summary": lead}`` for each article with enough words on both sides."""
    path = Path(path) if path is not None else gensim_test_file(DUMP)
    if not path.is_file():
        raise DataError(f"{path} not found")
    pairs = []
    for title, namespace, redirect, markup in _pages(path):
        if namespace != "0" or redirect or markup.lstrip().lower().startswith("#redirect"):
            continue
        if title.endswith("(disambiguation)") or _DISAMBIGUATION.search(markup):
            continue  # lists of other articles, not an article
        lead, body = lead_and_body(clean_wikitext(markup))
        if len(body.split()) >= min_body_words and len(lead.split()) >= min_lead_words:
            pairs.append({"id": title, "document": body, "summary": lead})
    return pairs
