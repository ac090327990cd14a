"""The glyphs in the PDF itself are HarfBuzz's: read back from the content stream and the
embedded font subsets, Hebrew and Arabic balloons draw the glyphs HarfBuzz chose (joining
forms, the لا ligature, placed marks) where HarfBuzz put them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pypdf
import uharfbuzz as hb
from pypdf.generic import ContentStream

from comicc.cli import main
from tests.conftest import BASE_MANIFEST, write_project
from tests.page.harfbuzz import KERN_LIGA, reference_font, reference_shaping

HEBREW = "שָׁלוֹם"  # pointed: the marks are positioned on their letters
ARABIC = "السلام"  # joined letters and the لا ligature
TOLERANCE = 0.01  # points; the content stream rounds coordinates


class _Outline:
    """A pen recording a glyph's outline, to know a glyph in a font subset by its drawing."""

    def __init__(self) -> None:
        self.ops: list[tuple] = []

    def moveTo(self, *p) -> None:  # noqa: N802 - HarfBuzz's pen protocol
        self.ops.append(("M", *p))

    def lineTo(self, *p) -> None:  # noqa: N802
        self.ops.append(("L", *p))

    def qCurveTo(self, *p) -> None:  # noqa: N802
        self.ops.append(("Q", *p))

    def curveTo(self, *p) -> None:  # noqa: N802
        self.ops.append(("C", *p))

    def closePath(self) -> None:  # noqa: N802
        self.ops.append(("Z",))


def outline(font: hb.Font, gid: int) -> tuple:
    pen = _Outline()
    font.draw_glyph_with_pen(gid, pen)
    return tuple(pen.ops)


@dataclass(frozen=True)
class Drawn:
    outline: tuple
    x: float
    y: float


def dejavu() -> tuple[hb.Font, int]:
    """DejaVu Sans, which letters Hebrew and Arabic, as HarfBuzz sees it, and its units per em."""
    return reference_font("DejaVuSans")


def shaped(text: str) -> hb.Buffer:
    return reference_shaping("DejaVuSans", text, "rtl", KERN_LIGA)


def harfbuzz_glyphs(text: str, size: float) -> list[Drawn]:
    """HarfBuzz's own shaping of a right-to-left word in DejaVu Sans, in points."""
    font, upem = dejavu()
    buf = shaped(text)
    scale = size / upem
    glyphs, pen = [], 0
    for info, pos in zip(buf.glyph_infos, buf.glyph_positions, strict=True):
        x, y = (pen + pos.x_offset) * scale, pos.y_offset * scale
        glyphs.append(Drawn(outline(font, info.codepoint), x, y))
        pen += pos.x_advance
    return glyphs


def unshaped(text: str, size: float) -> list[Drawn]:
    """The word as drawn without shaping and bidi: each letter on its own, left to right."""
    glyphs: list[Drawn] = []
    pen = 0.0
    for char in text:
        alone = harfbuzz_glyphs(char, size)
        glyphs += [Drawn(g.outline, pen + g.x, g.y) for g in alone]
        pen += _advance(char, size)
    return glyphs


def _advance(char: str, size: float) -> float:
    return sum(p.x_advance for p in shaped(char).glyph_positions) * size / dejavu()[1]


def pdf_lines(pdf: Path) -> list[tuple[float, list[Drawn]]]:
    """Each text object of the first page: its font size and the glyphs it draws, each known
    by its outline in the embedded subset and placed by the text matrix and the widths."""
    reader = pypdf.PdfReader(pdf)
    page = reader.pages[0]
    resources = page["/Resources"]["/Font"]
    fonts: dict[str, tuple[hb.Font, list[float], int]] = {}
    for name, ref in resources.items():
        font = ref.get_object()
        data = font["/FontDescriptor"].get_object()["/FontFile2"].get_object().get_data()
        face = hb.Face(hb.Blob(data))
        fonts[name] = (hb.Font(face), [float(w) for w in font["/Widths"]], int(font["/FirstChar"]))
    lines: list[tuple[float, list[Drawn]]] = []
    current, size, x, y = "", 0.0, 0.0, 0.0
    for operands, op in ContentStream(page.get_contents(), reader).operations:
        if op == b"BT":
            lines.append((0.0, []))
        elif op == b"Tf":
            current, size = str(operands[0]), float(operands[1])
            lines[-1] = (size, lines[-1][1])
        elif op == b"Tm":
            x, y = float(operands[4]), float(operands[5])
        elif op == b"Tj":
            font, widths, first = fonts[current]
            for code in operands[0].original_bytes:
                subset_gid = font.get_nominal_glyph(code) or 0
                lines[-1][1].append(Drawn(outline(font, subset_gid), x, y))
                x += widths[code - first] / 1000 * size
    return lines


def normalised(glyphs: list[Drawn]) -> list[Drawn]:
    """Glyphs moved so the lowest and leftmost sit at 0: placement without the line's origin."""
    left, bottom = min(g.x for g in glyphs), min(g.y for g in glyphs)
    return [Drawn(g.outline, g.x - left, g.y - bottom) for g in glyphs]


def same_glyphs(want: list[Drawn], got: list[Drawn]) -> bool:
    """Every glyph HarfBuzz set is drawn, and nothing else, each where HarfBuzz put it."""
    left = normalised(got)
    for glyph in normalised(want):
        match = next((g for g in left if g.outline == glyph.outline
                      and abs(g.x - glyph.x) < TOLERANCE and abs(g.y - glyph.y) < TOLERANCE), None)
        if match is None:
            return False
        left.remove(match)
    return not left


def test_hebrew_and_arabic_balloons_draw_harfbuzzs_glyphs_where_it_put_them(tmp_path) -> None:
    manifest = BASE_MANIFEST.replace("Is anyone up there?", HEBREW).replace(
        "Ninety miles from shore.", ARABIC
    )
    write_project(tmp_path, manifest)
    assert main(["build", str(tmp_path), "--backend", "none", "--no-report"]) == 0
    lines = pdf_lines(tmp_path / f"{tmp_path.name}.pdf")
    for text in (HEBREW, ARABIC):
        matching = [size for size, glyphs in lines
                    if same_glyphs(harfbuzz_glyphs(text, size), glyphs)]
        assert len(matching) == 1, f"{text}: no line of the PDF draws HarfBuzz's glyphs"
        # The check tells shaped text from letters set one by one in logical order.
        assert not any(same_glyphs(unshaped(text, size), glyphs)
                       for size, glyphs in lines)
