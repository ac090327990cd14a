"""What print-on-demand printers accept, as `comicc preflight` and the build check it.

Figures from the printers' published file-creation guides (IngramSpark: PDF/X-1a:2001,
CMYK or greyscale, total ink at most 240 %, 300 ppi, 0.125 in bleed, an even page count;
Amazon KDP: 0.125 in bleed, 300 ppi, embedded fonts, RGB or CMYK). `generic` is a careful
offset printer: the same bleed and resolution, 300 % ink.
"""

from __future__ import annotations

from dataclasses import dataclass

from comicc.manifest.choices import Printer


@dataclass(frozen=True)
class PrinterSpec:
    """One printer's limits; every field is something its file check rejects."""

    name: Printer
    bleed: float  # points of bleed needed beyond the trim on each side
    inner_bleed: bool  # the spine edge needs bleed too (KDP wants it on the outside edges only)
    min_ppi: float  # effective resolution of every placed image
    ink_limit: int  # total area coverage, percent
    even_pages: bool  # an odd page count is rejected (otherwise only a warning)
    pdfx: tuple[str, ...]  # accepted GTS_PDFXVersion values; () = any PDF
    cmyk_only: bool  # RGB images or colours are rejected


PRINTERS: dict[Printer, PrinterSpec] = {
    "generic": PrinterSpec("generic", 9.0, True, 300, 300, False, (), False),
    "kdp": PrinterSpec("kdp", 9.0, False, 300, 300, False, (), False),
    "ingramspark": PrinterSpec("ingramspark", 9.0, True, 300, 240, True,
                               ("PDF/X-1a:2001", "PDF/X-1a:2003"), True),
}
