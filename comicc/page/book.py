"""One call from a validated comic to the finished book: plan every page, then write PDF or CBZ."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from comicc.manifest.diagnostics import AuthorError, Diagnostic, DiagnosticSink
from comicc.manifest.images import load_image
from comicc.manifest.models import Comic
from comicc.page.cbz import write_cbz
from comicc.page.pageplan import PagePlan
from comicc.page.pdf import write_pdf
from comicc.page.plan import plan_page

FORMATS = (".pdf", ".cbz")


def plan_book(
    comic: Comic, project_dir: Path, panel_images: list[list[Image.Image]], sink: DiagnosticSink
) -> list[PagePlan]:
    """Plan every page for the given panel images (one list per page)."""
    return [
        plan_page(comic, index, project_dir, [image.size for image in images], sink)
        for index, images in enumerate(panel_images)
    ]


def load_panel_art(
    comic: Comic, project_dir: Path, sink: DiagnosticSink
) -> list[list[Image.Image]]:
    """The author's raw panel art, page by page, for a build with no restyling."""
    return [
        [load_image(project_dir / panel.art, sink) for panel in page.panel] for page in comic.page
    ]


def make_book(
    comic: Comic,
    project_dir: Path,
    panel_images: list[list[Image.Image]] | None,
    out: Path,
    *,
    sink: DiagnosticSink,
    provenance: str,
) -> Path:
    """Lay out, letter and write the book to `out`; its suffix (.pdf or .cbz) picks the format.

    `panel_images` are the (restyled) panels, one list per page; None uses the raw art.
    Author problems raise AuthorError; warnings go to `sink`. Returns `out`.
    """
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise AuthorError(
            Diagnostic(
                "error",
                f'cannot write "{out.name}": the output must end in .pdf or .cbz',
                hint="e.g. -o book.pdf",
                code="output",
            )
        )
    if panel_images is None:
        panel_images = load_panel_art(comic, project_dir, sink)
    plans = plan_book(comic, project_dir, panel_images, sink)
    return write_book(comic, plans, panel_images, out, provenance)


def by_page(comic: Comic, images: list[Image.Image]) -> list[list[Image.Image]]:
    """Panel images in reading order, grouped into one list per page."""
    grouped, start = [], 0
    for page in comic.page:
        grouped.append(images[start:start + len(page.panel)])
        start += len(page.panel)
    return grouped


def write_book(comic: Comic, plans: list[PagePlan], panel_images: list[list[Image.Image]],
               out: Path, provenance: str) -> Path:
    """Write the planned pages as a PDF, or a CBZ when `out` ends in .cbz; returns `out`.

    The build's book stage and `make_book` both end here: one way to write a book.
    """
    writer = write_cbz if out.suffix.lower() == ".cbz" else write_pdf
    return writer(comic, plans, panel_images, out, provenance)
