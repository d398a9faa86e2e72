"""Handwriting-style fonts packaged by Debian, and which characters each can draw.

A font *family* is the unit of holding out: every file of a held-out family is
kept out of training and validation. Families, their Debian package and their
files are listed in :data:`FAMILIES`; ``make system-deps`` installs the packages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from shared.errors import DataError

FONT_ROOT = Path("/usr/share/fonts")

@dataclass(frozen=True)
class Family:
    package: str  # the Debian package that installs it
    files: tuple[str, ...]
    cursive: bool = False
    capitals_only: bool = False  # draws lower case as capitals: its lines' text is upper-cased


FAMILIES: dict[str, Family] = {
    "dkg-handwriting": Family("fonts-dkg-handwriting", ("dkg.ttf", "dkgBI.ttf", "dkgBd.ttf", "dkgIt.ttf")),
    "breip": Family("fonts-breip", ("Breip.ttf",)),
    "bwht": Family("fonts-bwht", ("BecauseWeBuild-Regular.otf", "BecauseWeConnect-Regular.otf",
                                  "BecauseWeCreate-Regular.otf", "BecauseWeLearn-Regular.otf",
                                  "BecauseWeMentor-Regular.otf", "BecauseWeOrganize-Regular.otf"), capitals_only=True),
    "femkeklaver": Family("fonts-femkeklaver", ("femkeklaver.ttf",)),
    "dancingscript": Family("fonts-dancingscript", ("DancingScript-Regular.otf", "DancingScript-Bold.otf"), True),
    "kaushanscript": Family("fonts-kaushanscript", ("KaushanScript-Regular.otf",), True),
    "ecolier-court": Family("fonts-ecolier-court", ("Ecolier-court.ttf",), True),
    "comic-neue": Family("fonts-comic-neue", ("ComicNeue-Regular.otf", "ComicNeue-Bold.otf", "ComicNeue-Italic.otf",
                                              "ComicNeue-Light.otf", "ComicNeue-BoldItalic.otf")),
    "humor-sans": Family("fonts-humor-sans", ("Humor-Sans.ttf",), capitals_only=True),
    "kristi": Family("fonts-kristi", ("Kristi.ttf",), True),
    "rufscript": Family("fonts-rufscript", ("Rufscript010.ttf",), True),
}
DEBIAN_PACKAGES = tuple(f.package for f in FAMILIES.values())


@dataclass(frozen=True)
class Font:
    family: str
    path: str

    @property
    def name(self) -> str:
        return Path(self.path).stem


@lru_cache(maxsize=None)
def _index() -> dict[str, str]:
    return {p.name: str(p) for p in FONT_ROOT.rglob("*") if p.suffix.lower() in (".ttf", ".otf")}


def family_fonts(family: str) -> list[Font]:
    """The installed files of one family; a one-line error naming the Debian package when none is."""
    if family not in FAMILIES:
        raise DataError(f"unknown font family {family!r}; known: {', '.join(FAMILIES)}")
    spec = FAMILIES[family]
    found = [Font(family, _index()[name]) for name in spec.files if name in _index()]
    if not found:
        raise DataError(f"font family {family} is not installed: apt-get install {spec.package} (or make system-deps)")
    return found


def fonts_of(families: list[str]) -> list[Font]:
    return [font for family in families for font in family_fonts(family)]


@lru_cache(maxsize=None)
def font_charset(path: str) -> frozenset[str]:
    """Characters with a glyph in the font's best Unicode cmap (space always included)."""
    from fontTools.ttLib import TTFont

    try:
        cmap = TTFont(path, lazy=True).getBestCmap() or {}
    except Exception as err:  # fontTools raises many types on a damaged file
        raise DataError(f"cannot read font {path}: {err}") from None
    return frozenset(chr(code) for code in cmap) | {" "}


def written_text(font: Font, text: str) -> str:
    """What a line of ``text`` shows in ``font`` (upper case for capitals-only families)."""
    return text.upper() if FAMILIES[font.family].capitals_only else text


def can_draw(font: Font, text: str) -> bool:
    return set(written_text(font, text)) <= font_charset(font.path)
