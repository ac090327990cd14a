"""The book from its planned pages: PDF or CBZ, the one way comicc writes either.

The build plans each page as its own cached stage (`comicc.page.plan.plan_page`) and then
writes the book here (a PDF it takes as bytes from `comicc.page.pdf.render_pdf`, which
`write_pdf` wraps); the page tests plan and write through the same functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from comicc.manifest.models import Comic
from comicc.page.cbz import write_cbz
from comicc.page.colour import PLAIN, PrintSettings
from comicc.page.pageplan import PagePlan
from comicc.page.pdf import ArtPiece, write_pdf


def write_book(comic: Comic, plans: list[PagePlan],
               panel_images: Sequence[Sequence[Image.Image | ArtPiece]], out: Path,
               provenance: str, printing: PrintSettings = PLAIN) -> Path:
    """Write the planned pages as a PDF (plain or PDF/X, as `printing` says), or a CBZ when
    `out` ends in .cbz; returns `out`. Panels are images, or pieces already encoded for
    `printing` (`comicc.page.pdf.art_piece`; a CBZ's are encoded for PLAIN)."""
    if out.suffix.lower() == ".cbz":
        return write_cbz(comic, plans, panel_images, out, provenance)
    return write_pdf(comic, plans, panel_images, out, provenance, printing)
