"""HarfBuzz's own shaping, straight from a font file: the reference the lettering tests compare
comicc's glyphs with (it shares nothing with comicc/page/shaping.py but the font file)."""

from __future__ import annotations

from functools import cache

import uharfbuzz as hb

from comicc.page.fonts import font_file

KERN_LIGA = {"kern": True, "liga": True}


@cache
def reference_font(font: str) -> tuple[hb.Font, int]:
    """The font as HarfBuzz sees it, and its units per em (a fresh font's scale)."""
    path, index = font_file(font)
    face = hb.Face(hb.Blob.from_file_path(str(path)), index)
    return hb.Font(face), face.upem


def reference_shaping(font: str, text: str, direction: str | None,
                      features: dict[str, bool]) -> hb.Buffer:
    """`text` shaped by HarfBuzz in `font` (direction None: guessed from the text)."""
    hb_font, _ = reference_font(font)
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    if direction is not None:
        buf.direction = direction
    hb.shape(hb_font, buf, features)
    return buf
