"""Text for speech: normalised transcripts, sentence splitting and espeak-ng phonemes.

English is normalised to what a reader says: lower-case ``a-z``, apostrophes
and single spaces, with numbers and common abbreviations spelt out. Other
languages keep their letters (accents included) and digits; only case and
punctuation are normalised. Phonemes come from the ``espeak-ng`` program, one
process for a whole list of texts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata

from shared.errors import DataError

# --- numbers -----------------------------------------------------------------------------------

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}


def _below_thousand(n: int) -> list[str]:
    words = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return words


def number_to_words(n: int) -> str:
    """Cardinal ``n`` in words, American style: 2005 -> "two thousand five"."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n >= 10**15:
        return " ".join(_ONES[int(d)] for d in str(n))
    words = []
    for value, name in _SCALES:
        if n >= value:
            words += _below_thousand(n // value) + [name]
            n %= value
    if n or not words:
        words += _below_thousand(n)
    return " ".join(words)


def year_to_words(n: int) -> str:
    """A year read in pairs for 1100-1999 (1998 -> "nineteen ninety eight", 1905 -> "nineteen oh five");
    other numbers as cardinals."""
    if not 1100 <= n <= 1999:
        return number_to_words(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{number_to_words(high)} hundred"
    return f"{number_to_words(high)} {'oh ' if low < 10 else ''}{number_to_words(low)}"


def ordinal_to_words(n: int) -> str:
    """Ordinal ``n`` in words: 21 -> "twenty first"."""
    *head, last = number_to_words(n).split()
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return " ".join([*head, last])


def _digits(text: str) -> str:
    return " ".join(_ONES[int(d)] for d in text)


def _integer_words(text: str) -> str:
    """A digit string (thousands commas allowed) in words; leading zeros are read digit by digit."""
    if "," in text:
        return number_to_words(int(text.replace(",", "")))
    if len(text) > 1 and text.startswith("0"):
        return _digits(text)
    if len(text) == 4:
        return year_to_words(int(text))
    return number_to_words(int(text))


def _number_words(whole: str, fraction: str | None, ordinal: str | None) -> str:
    if ordinal:
        return ordinal_to_words(int(whole.replace(",", "")))
    if fraction:
        parts = fraction[1:].split(".")
        if len(parts) == 1:  # a decimal: 3.14 -> three point one four
            return f"{number_to_words(int(whole.replace(',', '')))} point {_digits(parts[0])}"
        return " point ".join(_integer_words(p) for p in [whole, *parts])  # a version: 2.6.32
    return _integer_words(whole)


def _number_match(m: re.Match) -> str:
    words, suffix = _number_words(m.group(1), m.group(2), m.group(3)), (m.group(4) or "").lower()
    if suffix == "'s":  # 1998's
        words += "'s"
    elif suffix == "s":  # the 1990s -> nineties
        words = words[:-1] + "ies" if words.endswith("y") else words + "s"
    return f" {words} "


# --- English -----------------------------------------------------------------------------------

_ABBREVIATIONS = [(re.compile(pattern, re.IGNORECASE), words) for pattern, words in (
    (r"(?<![\w.])e\.\s?g\.", " for example "),
    (r"(?<![\w.])i\.\s?e\.", " that is "),
    (r"(?<![\w.])etc\.?(?!\w)", " et cetera "),
    (r"(?<![\w.])vs\.?(?!\w)", " versus "),
    (r"(?<![\w.])dr\.", " doctor "),
    (r"(?<![\w.])mrs\.", " missus "),
    (r"(?<![\w.])mr\.", " mister "),
    (r"(?<![\w.])approx\.", " approximately "),
    (r"(?<![\w.])no\.\s?(?=\d)", " number "),
    (r"(?<![\w.])fig\.", " figure "),
    (r"(?<![\w.])et al\.", " et al "),
    (r"(?<![\w.])w\.r\.t\.", " with respect to "),
)]
_CURRENCY = {"$": "dollars", "€": "euros", "£": "pounds"}
_SYMBOLS = {"%": " percent ", "&": " and ", "+": " plus ", "=": " equals ", "@": " at "}
_QUOTES = str.maketrans({"‘": "'", "’": "'", "ʼ": "'", "`": "'", "´": "'", "“": '"', "”": '"', "–": "-", "—": "-",
                         "−": "-", "‐": "-", "‑": "-", "\u00a0": " "})
_LATIN = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
                        "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i"})
_NUMBER = re.compile(r"(\d{1,3}(?:,\d{3})+(?!\d)|\d+)((?:\.\d+)+)?(?:(st|nd|rd|th)(?![a-z]))?(?:('s|s)(?![a-z]))?",
                     re.IGNORECASE)


def strip_accents(text: str) -> str:
    """``text`` with accents removed (NFKD, combining marks dropped; ß, æ, ø, ... spelt in ASCII)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.translate(_LATIN)) if not unicodedata.combining(c))


def normalize_english(text: str) -> str:
    """``text`` as spoken English words: ``a-z``, apostrophes and single spaces.

    "Dr. Smith paid $3.50 (approx. 12% of 1998's budget) on the 21st" ->
    "doctor smith paid three point five zero dollars approximately twelve percent of nineteen ninety
    eight's budget on the twenty first".
    """
    text = strip_accents(text.translate(_QUOTES)).replace("\\", " ")
    for pattern, words in _ABBREVIATIONS:
        text = pattern.sub(words, text)
    for symbol, name in _CURRENCY.items():
        text = re.sub(rf"{re.escape(symbol)}\s?(\d[\d,]*(?:\.\d+)?)", rf"\1 {name}", text)
    text = re.sub(r"(?<=\d)(?:-| - )(?=\d)", " to ", text)  # ranges: 5-10
    text = re.sub(r"(?<![\w.])-(?=\d)", " minus ", text)
    text = _NUMBER.sub(_number_match, text)
    for symbol, words in _SYMBOLS.items():
        text = text.replace(symbol, words)
    text = text.lower()
    text = re.sub(r"[^a-z']+", " ", text)  # hyphens, slashes and other punctuation
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)  # quotes, not apostrophes inside words
    return " ".join(text.split())


def normalize_transcript(text: str, language: str) -> str:
    """Transcript normalisation: :func:`normalize_english` for "en"; other languages keep letters
    (accented too), digits and apostrophes, lower-cased (NFC), punctuation as spaces."""
    if language.lower().split("-")[0].split("_")[0] == "en":
        return normalize_english(text)
    text = unicodedata.normalize("NFC", text.translate(_QUOTES)).lower()
    text = "".join(c if c.isalnum() or c == "'" else " " for c in text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


# --- sentences ---------------------------------------------------------------------------------

_NO_BREAK_AFTER = {"e.g", "i.e", "etc", "dr", "mr", "mrs", "ms", "prof", "vs", "fig", "figs", "al", "cf", "approx",
                   "no", "st", "jr", "sr", "eq", "sec", "vol", "ca", "resp", "inc", "ltd", "co", "corp", "viz"}
_BOUNDARY = re.compile(r"([.!?]+)([\"')\]]*)\s+(?=[\"'(\[]*[A-Z])")


def split_sentences(text: str) -> list[str]:
    """Sentences of prose: a break after ``.``, ``!`` or ``?`` followed by a space and a capital (or a
    quote), not after common abbreviations (e.g., Dr., et al.) or single initials. Line breaks also
    end a sentence."""
    sentences = []
    for line in text.splitlines():
        start = 0
        for m in _BOUNDARY.finditer(line):
            if m.group(1) == ".":
                word = re.search(r"(\S+)$", line[start : m.start()])
                word = word.group(1).lower().lstrip("\"'([") if word else ""
                if word in _NO_BREAK_AFTER or re.fullmatch(r"(?:[a-z]\.)*[a-z]", word):
                    continue
            sentences.append(line[start : m.end(2)].strip())
            start = m.end()
        sentences.append(line[start:].strip())
    return [s for s in sentences if s]


# --- phonemes ----------------------------------------------------------------------------------

_SENTINEL = "qzqzqz"  # spelt out by espeak-ng as a clause no real text phonemizes to
_STRESS = "ˈˌ"
_LANGUAGE_SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)*\)")


def _espeak() -> str:
    program = shutil.which("espeak-ng")
    if program is None:
        raise DataError("espeak-ng not found: apt-get install espeak-ng")
    return program


def _line_phonemes(line: str, stress: bool) -> list[list[str]]:
    """Words of one espeak-ng ``--ipa --sep=_`` output line as lists of phonemes."""
    words = []
    for word in _LANGUAGE_SWITCH.sub(" ", line).split():
        phones = []
        for token in word.split("_"):
            marks = "".join(c for c in token if c in _STRESS)
            token = "".join(c for c in token if c not in _STRESS and c != "\u200d")
            if stress and marks:
                phones.append(marks[-1])
            if token:
                phones.append(token)
        if any(p not in _STRESS for p in phones):
            words.append(phones)
    return words


def phonemize(texts: list[str], voice: str = "en-us", stress: bool = True, timeout: float = 600.0) -> list[list[str]]:
    """IPA phonemes of each text from one ``espeak-ng`` run: one symbol per phoneme (``"aɪ"``, ``"ɜː"``)
    and ``" "`` between words; with ``stress``, ``"ˈ"``/``"ˌ"`` are tokens before the stressed vowel.

    espeak-ng prints one line per clause, so a text can give several lines; a sentinel clause is put
    between the input lines and the output is cut where the sentinel's phonemes appear. espeak-ng also
    joins some short words ("on the" -> ``ɔnðə``), so words may be fewer than in the text.
    """
    program = _espeak()
    lines = [" ".join(t.split()).replace("[[", "[ [") for t in texts]  # [[...]] would be read as phonemes
    sent = [i for i, line in enumerate(lines) if any(c.isalnum() for c in line)]
    if not sent:
        return [[] for _ in texts]
    stdin = "".join(f"{_SENTINEL}\n{lines[i]}\n" for i in sent) + f"{_SENTINEL}\n"
    try:
        # -q still renders (and drops) the audio; at the fastest plain speed that costs least, and the
        # phonemes are the same at every speed
        run = subprocess.run([program, "-q", "--ipa", "--sep=_", "-s", "449", "-v", voice], input=stdin, capture_output=True,
                             text=True, encoding="utf-8", timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DataError(f"espeak-ng timed out after {timeout:.0f} s on {len(sent)} texts") from None
    if run.returncode != 0:
        detail = (run.stderr.strip().splitlines() or [f"exit status {run.returncode}"])[-1]
        raise DataError(f"espeak-ng failed (voice {voice!r}): {detail}")
    output = [line.strip() for line in run.stdout.splitlines() if line.strip()]
    if not output:
        raise DataError(f"espeak-ng gave no phonemes (voice {voice!r})")
    marker, segments, current = output[0], [], None
    for line in output:
        if line == marker:
            if current is not None:
                segments.append(current)
            current = []
        elif current is not None:
            current.append(line)
    if len(segments) != len(sent) or current:
        raise DataError(f"espeak-ng output did not line up with its {len(sent)} input lines (voice {voice!r})")
    result: list[list[str]] = [[] for _ in texts]
    for i, group in zip(sent, segments):
        tokens: list[str] = []
        for word in (w for line in group for w in _line_phonemes(line, stress)):
            tokens += ([" "] if tokens else []) + word
        result[i] = tokens
    return result
