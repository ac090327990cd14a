"""Lettering fonts: the shipped comic font, its fallbacks, and per-character font choice.

Comic Neue (SIL OFL 1.1) letters the balloons; DejaVu Sans (Bitstream Vera licence) covers
accents, Greek, Cyrillic and symbols it lacks; for anything else (CJK, for one) a system
font found through fontconfig is used when one is installed. Fonts are named by a key: a
shipped font's name, or `file:<path>` for a system font. Every key is also the font's
reportlab name, so measuring and drawing use the same fonts.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFError, TTFont

FONT_DIR = Path(__file__).parent / "fonts"
SHIPPED = {
    "ComicNeue": "ComicNeue-Regular.ttf",
    "ComicNeue-Bold": "ComicNeue-Bold.ttf",
    "DejaVuSans": "DejaVuSans.ttf",
    "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
}
# Shipped fonts tried in order for each weight.
CHAINS = {
    "regular": ("ComicNeue", "DejaVuSans"),
    "bold": ("ComicNeue-Bold", "DejaVuSans-Bold"),
}
SYSTEM_PREFIX = "file:"
# The first private-use code point given to glyphs no character maps to.
PRIVATE_USE = 0xE000
# How many of fontconfig's best matches are tried for uncovered characters.
SYSTEM_CANDIDATES = 8


@dataclass(frozen=True)
class Run:
    """A stretch of text drawn in one font."""

    font: str
    text: str


def font_file(key: str) -> tuple[Path, int]:
    """The file of the font `key` and the font's index in it (collections hold several)."""
    if key in SHIPPED:
        return FONT_DIR / SHIPPED[key], 0
    if key.startswith(SYSTEM_PREFIX):
        return Path(key[len(SYSTEM_PREFIX) :]), 0
    raise KeyError(f"unknown font {key!r}")


@cache
def load_font(key: str) -> TTFont | None:
    """Register the font `key` with reportlab (once) and return it; None if it cannot be used."""
    path, index = font_file(key)
    if key not in SHIPPED:
        for shipped in SHIPPED:  # shipped fonts claim their names first (see below)
            load_font(shipped)
    try:
        font = TTFont(key, str(path), subfontIndex=index)
    except (TTFError, OSError, AssertionError, KeyError, ValueError):
        # reportlab embeds only TrueType outlines; CFF-flavoured system fonts end up here.
        if key in SHIPPED:
            raise
        return None
    if key not in SHIPPED:
        # reportlab hands out the first font registered under a PostScript name for every
        # later font of that name, so a font that is not comicc's own gets a name of its own.
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:8].encode()
        font.face.name = font.face.name + b"-" + digest  # reportlab keeps names as bytes
    pdfmetrics.registerFont(font)
    return font if pdfmetrics.getFont(key) is font else None


def covers(key: str, char: str) -> bool:
    font = load_font(key)
    return font is not None and ord(char) in font.face.charToGlyph


def _ignorable(char: str) -> bool:
    # Variation selectors, joiners and other format characters draw nothing on their own;
    # other combining marks do, so a font missing them is reported, not silently skipped.
    code = ord(char)
    selector = 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF
    return (selector or unicodedata.category(char) == "Cf") and not any(
        covers(key, char) for key in SHIPPED
    )


@cache
def _system_font_for(char: str) -> str | None:
    """A system font key covering `char`, found with fontconfig, or None."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        out = subprocess.run(
            [fc_match, "-s", "--format", "%{file}\n", f":charset={ord(char):x}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    seen: list[str] = []
    for line in out.splitlines():
        if line and line not in seen and line.lower().endswith((".ttf", ".ttc", ".otf")):
            seen.append(line)
        if len(seen) >= SYSTEM_CANDIDATES:
            break
    for path in seen:
        key = SYSTEM_PREFIX + path
        if covers(key, char):
            return key
    return None


Chain = tuple[str, ...]  # font keys tried in order for each character


def font_for(char: str, chain: Chain | str) -> str | None:
    """The first font in the chain (a weight names a shipped chain), then the system's fonts,
    that has `char`."""
    for key in CHAINS[chain] if isinstance(chain, str) else chain:
        if covers(key, char):
            return key
    return _system_font_for(char)


def split_runs(text: str, chain: Chain | str) -> tuple[list[Run], list[str]]:
    """Split text into runs by the font that draws each character.

    Returns the runs and the characters no font covers (left out of the runs, so the
    rest is still drawn).
    """
    runs: list[Run] = []
    missing: list[str] = []
    chain = CHAINS[chain] if isinstance(chain, str) else chain
    primary = chain[0]
    for char in text:
        key = primary if char == " " else font_for(char, chain)
        if key is None:
            if not _ignorable(char) and char not in missing:
                missing.append(char)
            continue
        if runs and runs[-1].font == key:
            runs[-1] = Run(key, runs[-1].text + char)
        else:
            runs.append(Run(key, char))
    return runs, missing


def char_for_glyph(key: str, gid: int, text: str) -> str:
    """A character that draws glyph `gid` of font `key` through reportlab and reads as `text`.

    reportlab subsets fonts by character, and a PDF reads text back through each font's
    ToUnicode map. A glyph drawn for characters other than its own (an Arabic joining form,
    a ligature, a mirrored bracket) is given a private-use character of its own that draws
    it and reads back as `text`.
    """
    font = load_font(key)
    assert font is not None, key
    face = font.face
    own = face.glyphToChar.get(gid, [])
    if len(text) == 1 and ord(text) in own:
        return text
    if not text and own:
        return chr(own[0])
    found = _GLYPH_CHARS.get((key, gid, text))
    if found is not None:
        return found
    # Codes are unique across fonts: the ToUnicode maps know them by code alone.
    code = max(_READS_AS, default=PRIVATE_USE - 1) + 1
    while code in face.charToGlyph:
        code += 1
    face.charToGlyph[code] = gid
    face.glyphToChar.setdefault(gid, []).append(code)
    face.charWidths[code] = font.pdfScale(face.hmetrics[gid][0])
    _READS_AS[code] = text
    _GLYPH_CHARS[key, gid, text] = chr(code)
    return chr(code)


_GLYPH_CHARS: dict[tuple[str, int, str], str] = {}
# What each private-use character given to a glyph stands for, for the ToUnicode maps.
_READS_AS: dict[int, str] = {}


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """reportlab's ToUnicode CMap, with each code's text in UTF-16 (so characters beyond the
    BMP, emoji among them, read back) and private-use glyph characters read as their text."""
    entries = [
        f"<{i:02X}> <{_READS_AS.get(code, chr(code)).encode('utf-16-be').hex().upper()}>"
        for i, code in enumerate(subset)
    ]
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            f"/CIDSystemInfo << /Registry ({fontname}) /Ordering ({fontname}) /Supplement 0 >> def",
            f"/CMapName /{fontname} def",
            "/CMapType 2 def",
            f"1 begincodespacerange <00> <{len(subset) - 1:02X}> endcodespacerange",
            f"{len(entries)} beginbfchar",
            *entries,
            "endbfchar",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


ttfonts.makeToUnicodeCMap = _to_unicode_cmap
