"""`comicc preflight`: each kind of problem a printer rejects is found, located and explained."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pypdf
import pytest
from PIL import Image
from reportlab.lib.colors import CMYKColor
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from comicc.cli import main
from comicc.page.colour import GRACOL, OutputIntent
from comicc.page.fonts import CHAINS, load_font
from comicc.page.pdfx import Identity, mark_pdfx
from comicc.page.preflight import Finding, preflight
from comicc.page.printers import PRINTERS

from .conftest import without_unmeasured_ink

needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript not installed")

TRIM = (6 * 72, 9 * 72)
BLEED = 9.0
Draw = Callable[[Canvas], None]


def cmyk_image(ppi: int, inches: float = 1.0) -> Image.Image:
    side = round(ppi * inches)
    return Image.new("CMYK", (side, side), (40, 20, 0, 10))


def draw_image(image: Image.Image, inches: float = 1.0) -> Draw:
    def draw(canvas: Canvas) -> None:
        canvas.drawImage(ImageReader(image), BLEED + 36, BLEED + 36, inches * 72, inches * 72)
    return draw


def draw_text(canvas: Canvas) -> None:
    canvas.setFillColor(CMYKColor(0, 0, 0, 1, alpha=None))
    canvas.setFont(CHAINS["regular"][0], 12)
    canvas.drawString(BLEED + 36, BLEED + 200, "Hello")


def make_pdf(path: Path, pages: int = 2, draw: Draw = draw_text, bleed: float = BLEED,
             x1a: bool = True) -> Path:
    """A small print PDF: trim 6x9 in, `bleed` on each side, drawn by `draw` on every page."""
    media = (TRIM[0] + 2 * bleed, TRIM[1] + 2 * bleed)
    load_font(CHAINS["regular"][0])
    canvas = Canvas(str(path), pagesize=media, invariant=1, pdfVersion=(1, 3) if x1a else None,
                    initialFontName=CHAINS["regular"][0])
    if x1a:
        intent = OutputIntent(GRACOL.read_bytes(), "CGATS TR 006", "GRACoL", 4)
        mark_pdfx(canvas, "x1a", intent, Identity("Test", ["A"], "test", "test", 0))
    for _ in range(pages):
        canvas.setTrimBox((bleed, bleed, bleed + TRIM[0], bleed + TRIM[1]))
        canvas.setBleedBox((0, 0, *media))
        draw(canvas)
        canvas.showPage()
    canvas.save()
    if x1a:  # the info keys comicc's writer adds, added here by pypdf
        writer = pypdf.PdfWriter(clone_from=path)
        writer.add_metadata({"/GTS_PDFXVersion": "PDF/X-1a:2001"})
        writer.write(path)
    return path


def findings(path: Path, printer: str = "ingramspark", code: str | None = None) -> list[Finding]:
    found = preflight(path, PRINTERS[printer])  # type: ignore[index]
    return [f for f in found if code is None or f.code == code]


def test_a_clean_file_has_no_findings(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "clean.pdf", draw=lambda c: (draw_text(c),
                                                           draw_image(cmyk_image(300))(c)))
    assert without_unmeasured_ink(findings(pdf)) == []
    assert main(["preflight", str(pdf), "--printer", "ingramspark"]) == 0


def test_missing_bleed_is_found_on_every_page(tmp_path: Path, capsys) -> None:
    pdf = make_pdf(tmp_path / "nobleed.pdf", bleed=0)
    found = findings(pdf, code="bleed")
    assert [f.page for f in found] == [1, 2]
    assert found[0].severity == "error" and found[0].what.startswith("no bleed")
    assert "0.125 in of bleed" in found[0].limit
    assert main(["preflight", str(pdf), "--printer", "kdp"]) == 2
    err = capsys.readouterr().err
    assert "nobleed.pdf: error[preflight-bleed]: page 1, BleedBox: no bleed" in err


def test_kdp_needs_no_bleed_on_the_spine_edge(tmp_path: Path) -> None:
    def draw(canvas: Canvas) -> None:  # trim flush with the left (spine) edge of a recto
        canvas.setTrimBox((0, BLEED, TRIM[0], BLEED + TRIM[1]))
        draw_text(canvas)
    pdf = make_pdf(tmp_path / "spine.pdf", pages=1, draw=draw)
    assert findings(pdf, "kdp", code="bleed") == []
    assert len(findings(pdf, "ingramspark", code="bleed")) == 1


def test_a_150_ppi_image_is_found(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "lowres.pdf", pages=2, draw=draw_image(cmyk_image(150, 2), 2))
    found = findings(pdf, code="resolution")
    assert [f.page for f in found] == [1, 2]
    assert found[0].what == ("150 ppi (300x300 px placed at 2.00x2.00 in, 0.62 in from the "
                             "left, 6.62 in from the top)")
    assert found[0].object.startswith("image /")
    assert "300 ppi or more" in found[0].limit


def test_an_unembedded_font_is_found(tmp_path: Path) -> None:
    def draw(canvas: Canvas) -> None:
        canvas.setFont("Helvetica", 12)  # a base-14 font: referenced by name, never embedded
        canvas.drawString(50, 50, "Hi")
    pdf = make_pdf(tmp_path / "helvetica.pdf", draw=draw)
    found = findings(pdf, code="font")
    assert len(found) == 1  # one finding per font, where it is first used
    assert (found[0].page, found[0].object, found[0].what) == (1, "font Helvetica", "not embedded")


def test_an_rgb_image_in_an_x1a_file_is_found(tmp_path: Path) -> None:
    rgb = Image.new("RGB", (300, 300), (200, 30, 30))
    pdf = make_pdf(tmp_path / "rgb.pdf", pages=2, draw=draw_image(rgb))
    found = findings(pdf, "generic", code="colour")  # generic, but the file says X-1a
    assert [(f.page, f.what) for f in found] == [(1, "an RGB image"), (2, "an RGB image")]
    plain = make_pdf(tmp_path / "rgb-plain.pdf", pages=2, draw=draw_image(rgb), x1a=False)
    assert findings(plain, "kdp", code="colour") == []  # KDP takes RGB


def test_rgb_colour_operators_in_an_x1a_file_are_found(tmp_path: Path) -> None:
    def draw(canvas: Canvas) -> None:
        canvas.setFillColorRGB(1, 0, 0)
        canvas.rect(50, 50, 20, 20, fill=1)
    found = findings(make_pdf(tmp_path / "rg.pdf", pages=1, draw=draw), code="colour")
    assert [(f.page, f.object) for f in found] == [(1, "content stream")]


def test_transparency_in_an_x1a_file_is_found(tmp_path: Path) -> None:
    def draw(canvas: Canvas) -> None:
        canvas.setFillColor(CMYKColor(0, 0, 0, 1, alpha=0.5))
        canvas.rect(50, 50, 20, 20, fill=1)
    found = findings(make_pdf(tmp_path / "alpha.pdf", pages=1, draw=draw), code="transparency")
    assert len(found) == 1 and "opacity 0.5" in found[0].what


@needs_gs
def test_320_percent_coverage_is_found_where_it_is(tmp_path: Path) -> None:
    def draw(canvas: Canvas) -> None:
        canvas.setFillColor(CMYKColor(0.8, 0.8, 0.8, 0.8, alpha=None))
        canvas.rect(BLEED + 72, BLEED + TRIM[1] - 144, 72, 72, stroke=0, fill=1)
    pdf = make_pdf(tmp_path / "ink.pdf", pages=2, draw=draw)
    found = findings(pdf, "generic", code="ink")
    assert [f.page for f in found] == [1, 2]
    assert found[0].what.startswith("total ink reaches 320 %")
    assert "at most 300 %" in found[0].limit
    where = re.search(r"\(([\d.]+) in from the left, ([\d.]+) in from the top\)", found[0].what)
    assert where and 1.1 <= float(where[1]) <= 2.2 and 1.1 <= float(where[2]) <= 2.2


def test_an_odd_page_count_is_rejected_by_ingramspark_only(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "odd.pdf", pages=3)
    [odd] = findings(pdf, code="pages")
    assert (odd.severity, odd.page, odd.what) == ("error", None, "3 pages, an odd count")
    [kdp] = findings(pdf, "kdp", code="pages")
    assert kdp.severity == "warning"


def test_ingramspark_rejects_a_file_that_is_not_pdfx(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "plain.pdf", x1a=False)
    found = findings(pdf, code="pdfx")
    assert [f.what for f in found] == ["the file is not PDF/X",
                                       "no GTS_PDFX output intent"]


def test_preflight_of_a_file_that_is_not_a_pdf_is_an_author_error(tmp_path: Path,
                                                                  capsys) -> None:
    bad = tmp_path / "book.pdf"
    bad.write_text("not a pdf")
    assert main(["preflight", str(bad)]) == 2
    assert "error[preflight]: cannot read the PDF" in capsys.readouterr().err
