"""Lettering fonts: the shipped comic font, its fallbacks, and per-character font choice.

Comic Neue (SIL OFL 1.1) letters the balloons; DejaVu Sans (Bitstream Vera licence) covers
accents, Greek, Cyrillic and symbols it lacks; for anything else (CJK, for one) a system
font found through fontconfig is used when one is installed. Fonts are named by a key: a
shipped font's name, or `file:<path>` for a system font. Every key is also the font's
reportlab name, so measuring and drawing use the same fonts.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
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
# How many of fontconfig's best matches are tried for uncovered characters.
SYSTEM_CANDIDATES = 8


@dataclass(frozen=True)
class Run:
    """A stretch of text drawn in one font."""

    font: str
    text: str


@cache
def load_font(key: str) -> TTFont | None:
    """Register the font `key` with reportlab (once) and return it; None if it cannot be used."""
    if key in SHIPPED:
        path = FONT_DIR / SHIPPED[key]
    elif key.startswith(SYSTEM_PREFIX):
        path = Path(key[len(SYSTEM_PREFIX) :])
    else:
        raise KeyError(f"unknown font {key!r}")
    try:
        font = TTFont(key, str(path))
    except (TTFError, OSError, AssertionError, KeyError, ValueError):
        # reportlab embeds only TrueType outlines; CFF-flavoured system fonts end up here.
        if key in SHIPPED:
            raise
        return None
    pdfmetrics.registerFont(font)
    return font


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


def font_for(char: str, weight: str) -> str | None:
    """The first font in the weight's chain (then the system's fonts) that has `char`."""
    for key in CHAINS[weight]:
        if covers(key, char):
            return key
    return _system_font_for(char)


def split_runs(text: str, weight: str) -> tuple[list[Run], list[str]]:
    """Split text into runs by the font that draws each character.

    Returns the runs and the characters no font covers (left out of the runs, so the
    rest is still drawn).
    """
    runs: list[Run] = []
    missing: list[str] = []
    primary = CHAINS[weight][0]
    for char in text:
        key = primary if char == " " else font_for(char, weight)
        if key is None:
            if not _ignorable(char) and char not in missing:
                missing.append(char)
            continue
        if runs and runs[-1].font == key:
            runs[-1] = Run(key, runs[-1].text + char)
        else:
            runs.append(Run(key, char))
    return runs, missing


def runs_width(runs: list[Run] | tuple[Run, ...], size: float) -> float:
    """Width in points of runs set at `size` points."""
    total = 0.0
    for run in runs:
        load_font(run.font)
        total += pdfmetrics.stringWidth(run.text, run.font, size)
    return total
