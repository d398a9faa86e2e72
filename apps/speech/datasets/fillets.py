"""Real human Dutch and Czech speech: the dubbed dialogues of the game Fish Fillets NG (GPL-2).

Debian's ``fillets-ng-data`` (with ``-nl``/``-cs``) installs the game under
``/usr/share/games/fillets-ng``. Each level's ``script/<level>/dialogs_<lang>.lua``
holds ``dialogId("<id>", "<font>", "<english>")`` calls, each followed by
``dialogStr("<translation>")``; the recording is ``sound/<level>/<lang>/<id>.ogg``
(22.05 or 44.1 kHz Vorbis). The font names the speaker (``font_small`` is the
small fish, ``font_big`` the big one, others the level's characters). Jokes
shared by all levels live under ``script/share`` and ``sound/share``.

Splits are by whole level (valid and test levels each hold ~10% of the
utterances), so no line of a level's dialogue is on two sides; the speakers,
however, are the same voice actors in every split.
"""

from __future__ import annotations

import hashlib
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from apps.speech.audio import SAMPLE_RATE, check_audio, read_audio, write_wav
from apps.speech.manifest import ManifestEntry, write_manifest
from apps.speech.text import normalize_transcript
from shared.errors import DataError

ROOT = Path("/usr/share/games/fillets-ng")
SPLITS = ("train", "valid", "test")
# Lines shared by all levels: level name -> (script prefixes under script/share, sound folder under sound/share)
SHARED = {"share-blackjokes": (("black_",), "blackjokes"), "share-border": (("border_", "shout_"), "border"),
          "share-borejokes": (("bore_",), "borejokes")}


@dataclass(frozen=True)
class Dialog:
    id: str
    speaker: str  # the font, e.g. "font_small"
    english: str
    text: str  # the translation from dialogStr ("" when the file has none)


@dataclass(frozen=True)
class Utterance:
    level: str
    id: str
    speaker: str
    text: str  # normalised with normalize_transcript
    audio_path: Path


def fillets_root() -> Path:
    """Where the game data is installed."""
    if not (ROOT / "script").is_dir() or not (ROOT / "sound").is_dir():
        raise DataError(f"Fish Fillets NG data not found at {ROOT}: apt-get install fillets-ng-data fillets-ng-data-nl")
    return ROOT


# --- Lua ---------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<comment>--\[(?P<ceq>=*)\[.*?\](?P=ceq)\]|--[^\n]*)
  | (?P<long>\[(?P<leq>=*)\[.*?\](?P=leq)\])
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<concat>\.\.)
  | (?P<punct>[(),])
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)
_ESCAPES = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"a": b"\a", b"b": b"\b", b"f": b"\f", b"v": b"\v", b"\n": b"\n"}


def lua_string(literal: str) -> str:
    """The value of a Lua string literal (quoted or long-bracket)."""
    if literal.startswith("["):
        body = literal[literal.index("[", 1) + 1 : literal.rindex("]", 0, -1)]
        return body[1:] if body.startswith("\n") else body
    raw, out, i = literal[1:-1].encode("utf-8"), bytearray(), 0
    while i < len(raw):
        c = raw[i : i + 1]
        if c != b"\\" or i + 1 == len(raw):
            out += c
            i += 1
            continue
        nxt = raw[i + 1 : i + 2]
        digits = re.match(rb"\d{1,3}", raw[i + 1 :])
        if digits:
            out.append(int(digits.group()) % 256)
            i += 1 + len(digits.group())
            continue
        out += _ESCAPES.get(nxt, nxt)  # \\ \" \' and unknown escapes (\/) give the character
        i += 2
    return out.decode("utf-8", errors="replace")


def _calls(lua_text: str) -> list[tuple[str, list[str] | None]]:
    """``name(args)`` calls in source order; args are the string values, None when not all strings."""
    tokens = []
    for m in _TOKEN.finditer(lua_text):
        kind = next(k for k in ("comment", "long", "string", "name", "concat", "punct", "space", "other") if m.group(k))
        if kind in ("comment", "space"):
            continue
        tokens.append(("string", m.group()) if kind == "long" else (kind, m.group()))
    calls, i = [], 0
    while i < len(tokens):
        if tokens[i][0] == "name" and i + 1 < len(tokens) and tokens[i + 1] == ("punct", "("):
            name, j, args, current, ok = tokens[i][1], i + 2, [], None, True
            while j < len(tokens) and tokens[j] != ("punct", ")"):
                kind, value = tokens[j]
                if kind == "string":
                    current = (current or "") + lua_string(value)
                elif kind == "punct" and value == ",":
                    args.append(current)
                    current = None
                elif kind == "punct" and value == "(":
                    ok = False  # a nested call: not a plain dialog line
                elif kind != "concat":
                    ok = False
                j += 1
            if current is not None or args:
                args.append(current)
            ok = ok and all(a is not None for a in args)
            calls.append((name, args if ok else None))
            i = j + 1
        else:
            i += 1
    return calls


def parse_dialogs(lua_text: str) -> list[Dialog]:
    """The ``dialogId``/``dialogStr`` pairs of a ``dialogs_<lang>.lua`` file, in order."""
    dialogs: list[Dialog] = []
    pending: tuple[str, str, str] | None = None
    for name, args in _calls(lua_text):
        if name == "dialogId" and args is not None and len(args) == 3:
            if pending:
                dialogs.append(Dialog(*pending, ""))
            pending = (args[0], args[1], args[2])
        elif name == "dialogStr" and args is not None and len(args) == 1 and pending:
            dialogs.append(Dialog(*pending, args[0]))
            pending = None
    if pending:
        dialogs.append(Dialog(*pending, ""))
    return dialogs


# --- utterances and data set -------------------------------------------------------------------

def _level_files(root: Path, language: str) -> list[tuple[str, list[Path], Path]]:
    """(level, dialogs files, sound folder) for every level with a dialogs file in ``language``: the
    level's ``dialogs_<lang>.lua`` and prefixed ones such as ``demo_dialogs_<lang>.lua``."""
    levels = []
    for folder in sorted(p for p in (root / "script").iterdir() if p.is_dir() and p.name != "share"):
        scripts = sorted(folder.glob(f"*dialogs_{language}.lua"), key=lambda p: (p.name != f"dialogs_{language}.lua", p.name))
        levels.append((folder.name, scripts, root / "sound" / folder.name / language))
    for level, (prefixes, sounds) in SHARED.items():
        scripts = [root / "script" / "share" / f"{prefix}dialogs_{language}.lua" for prefix in prefixes]
        levels.append((level, [p for p in scripts if p.is_file()], root / "sound" / "share" / sounds / language))
    return [(level, scripts, sound) for level, scripts, sound in levels if scripts]


def fillets_utterances(language: str = "nl") -> list[Utterance]:
    """Recorded dialogue lines in ``language`` ("nl" or "cs") with their normalised transcripts,
    sorted by level and id; lines without a recording or with an empty transcript are left out."""
    root = fillets_root()
    utterances = []
    for level, scripts, sound in _level_files(root, language):
        if not sound.is_dir():
            continue
        seen = set()
        dialogs = [d for script in scripts for d in parse_dialogs(script.read_text(encoding="utf-8", errors="replace"))]
        for dialog in dialogs:
            audio = sound / f"{dialog.id}.ogg"
            text = normalize_transcript(dialog.text, language)
            if dialog.id in seen or not text or not audio.is_file():
                continue
            seen.add(dialog.id)
            utterances.append(Utterance(level, dialog.id, dialog.speaker, text, audio))
    if not utterances:
        raise DataError(f"no recorded {language!r} dialogue under {root}: apt-get install fillets-ng-data-{language}")
    return sorted(utterances, key=lambda u: (u.level, u.id))


def level_split(utterances: list[Utterance], seed: int = 0, fraction: float = 0.1,
                valid_levels: list[str] | None = None, test_levels: list[str] | None = None) -> dict[str, list[str]]:
    """Levels per split: given ones, else levels in a seeded order of their names (the same for every language),
    taken for test and then valid until each holds at least ``fraction`` of the utterances."""
    counts: dict[str, int] = {}
    for u in utterances:
        counts[u.level] = counts.get(u.level, 0) + 1
    unknown = sorted((set(valid_levels or []) | set(test_levels or [])) - set(counts))
    if unknown:
        raise DataError(f"unknown level(s) {', '.join(unknown)} (known: {', '.join(sorted(counts))})")
    # a seeded order of level names that does not depend on which levels a language has
    order = sorted(counts, key=lambda level: hashlib.sha256(f"{seed}/{level}".encode()).hexdigest())
    taken = set(valid_levels or []) | set(test_levels or [])
    picked = {}
    for split, given in (("test", test_levels), ("valid", valid_levels)):
        if given is not None:
            picked[split] = sorted(given)
            continue
        chosen, total = [], 0
        for level in order:
            if total >= fraction * len(utterances):
                break
            if level not in taken:
                chosen.append(level)
                taken.add(level)
                total += counts[level]
        picked[split] = sorted(chosen)
    if set(picked["test"]) & set(picked["valid"]):
        raise DataError(f"levels in both valid and test: {', '.join(sorted(set(picked['test']) & set(picked['valid'])))}")
    picked["train"] = sorted(set(counts) - set(picked["test"]) - set(picked["valid"]))
    return {split: picked[split] for split in SPLITS}


def _duration(path: Path) -> float | None:
    try:
        info = sf.info(str(path))
        return info.frames / info.samplerate
    except (sf.SoundFileError, RuntimeError):
        return None


def build_fillets_set(out_dir: str | Path, language: str = "nl", valid_levels: list[str] | None = None,
                      test_levels: list[str] | None = None, seed: int = 0, progress: bool = True) -> dict[str, Path]:
    """Write ``<out>/<level>/<id>.wav`` (16 kHz mono) and ``<out>/{train,valid,test}.jsonl`` (extra keys
    ``language``, ``level``, ``id``, ``speaker``); WAVs already there are reused. Recordings that are
    empty or silent (one Dutch file has no samples) are left out with a warning."""
    out = Path(out_dir)
    utterances = fillets_utterances(language)
    levels = level_split(utterances, seed, valid_levels=valid_levels, test_levels=test_levels)
    split_of = {level: split for split, names in levels.items() for level in names}
    entries: dict[str, list[ManifestEntry]] = {split: [] for split in SPLITS}
    skipped = []
    for u in tqdm(utterances, desc=f"fillets {language}", unit="utt", disable=not progress,
                  mininterval=0.5 if sys.stderr.isatty() else 30.0):
        wav = out / u.level / f"{u.id}.wav"
        seconds = _duration(wav) if wav.is_file() else None
        if seconds is None:
            try:
                audio = read_audio(u.audio_path, SAMPLE_RATE)
                check_audio(audio, SAMPLE_RATE, str(u.audio_path))
            except DataError as error:
                skipped.append(str(error))
                continue
            write_wav(wav, audio, SAMPLE_RATE)
            seconds = len(audio) / SAMPLE_RATE
        extra = {"language": language, "level": u.level, "id": u.id, "speaker": u.speaker}
        entries[split_of[u.level]].append(ManifestEntry(str(wav), round(seconds, 4), u.text, extra))
    if skipped:
        warnings.warn(f"left out {len(skipped)} unusable recording(s): {'; '.join(skipped[:3])}", stacklevel=2)
    return {split: write_manifest(out / f"{split}.jsonl", entries[split]) for split in SPLITS}
