"""Shaping and bidi: balloons' glyphs are HarfBuzz's, in right-to-left order where the text is."""

from __future__ import annotations

from comicc.page.fonts import load_font
from comicc.page.shaping import bidi_levels, shape_line
from tests.page.harfbuzz import KERN_LIGA, reference_font, reference_shaping

from .test_letter import letter


def harfbuzz(font: str, text: str, direction: str) -> list[tuple[int, float]]:
    """HarfBuzz's own glyph ids and advances (in em) for `text`, straight from the font file."""
    buf = reference_shaping(font, text, direction, KERN_LIGA)
    scale = reference_font(font)[1]
    pairs = zip(buf.glyph_infos, buf.glyph_positions, strict=True)
    return [(i.codepoint, p.x_advance / scale) for i, p in pairs]


def test_right_to_left_balloons_set_harfbuzz_glyphs_right_to_left() -> None:
    for text in ("שלום", "مرحبا"):
        (plan,), sink = letter([{"text": text}])
        assert not sink.items
        (line,) = plan.lines
        fonts = {glyph.font for glyph in line.glyphs}
        (font,) = fonts
        got = [(g.gid, g.advance / line.size) for g in line.glyphs]
        want = harfbuzz(font, text, "rtl")
        assert [gid for gid, _ in got] == [gid for gid, _ in want]
        assert all(abs(a - b) < 1e-9 for (_, a), (_, b) in zip(got, want, strict=True))
        xs = [g.x for g in line.glyphs]
        assert xs == sorted(xs)
        # The first letter read stands at the right end.
        assert max(line.glyphs, key=lambda g: g.x).cluster == 0


def test_arabic_letters_join() -> None:
    (plan,), _ = letter([{"text": "مرحبا"}])
    glyphs = plan.lines[0].glyphs
    face = load_font(glyphs[0].font).face
    isolated = {face.charToGlyph[ord(c)] for c in "مرحبا"}
    # Initial and medial forms are glyphs of their own, not the isolated letters.
    assert {g.gid for g in glyphs} - isolated


def test_latin_and_digits_in_a_hebrew_line_stay_left_to_right() -> None:
    text = "שלום OK 42"
    assert bidi_levels(text) == [1] * 5 + [2] * 5  # digits after Latin take its direction (W7)
    (plan,), _ = letter([{"text": text}])
    (line,) = plan.lines
    order = [g.cluster for g in line.glyphs]  # visual order, left to right
    assert order.index(5) < order.index(6)  # "O" left of "K"
    assert order.index(8) < order.index(9)  # "4" left of "2"
    assert order.index(5) < order.index(0)  # the Latin word stands left of the first letter


def test_a_left_to_right_line_shapes_as_before() -> None:
    from comicc.page.fonts import Run

    glyphs = shape_line((Run("ComicNeue", "Hello"),), 10.0)
    assert [g.cluster for g in glyphs] == [0, 1, 2, 3, 4]
    assert glyphs[0].x == 0.0 and all(a.x < b.x for a, b in zip(glyphs, glyphs[1:], strict=False))
