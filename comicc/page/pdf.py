"""The print-ready PDF: one page per comic page, trim + bleed boxes, embedded subset fonts.

Each PDF page's MediaBox is the trim grown by the bleed on every side; TrimBox, BleedBox
and ArtBox (the live area inside the safe margin) are set for the printer. Panel art is
embedded at the full resolution of its crop, lettering is real (searchable) text in
embedded TrueType subsets, and the same inputs always give the same bytes.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image
from reportlab import rl_config
from reportlab.lib.colors import HexColor
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfdoc import PDFDate, PDFDictionary, PDFInfo, PDFName, PDFString
from reportlab.pdfgen.canvas import Canvas

import comicc
from comicc.files import atomic_output
from comicc.manifest.models import Comic
from comicc.page.fonts import CHAINS, load_font
from comicc.page.geometry import Rect
from comicc.page.pageplan import BalloonPlan, FramePlan, PagePlan

FRAME_LINE = 1.0  # panel border width in points
CREATOR = f"comicc {comicc.__version__}"


class _BookInfo(PDFInfo):
    """The document info dictionary, with a provenance entry and dates only when asked for.

    Dates appear only when SOURCE_DATE_EPOCH is set (reproducible builds); otherwise the
    file carries no date, so identical inputs give identical bytes.
    """

    provenance = ""

    def format(self, document):  # type: ignore[no-untyped-def]
        entries = {
            "Title": PDFString(self.title),
            "Author": PDFString(self.author),
            "Subject": PDFString(self.subject),
            "Keywords": PDFString(self.keywords),
            "Creator": PDFString(self.creator),
            "Producer": PDFString(self.producer),
            "Provenance": PDFString(self.provenance),
            "Trapped": PDFName(self.trapped),
        }
        if os.environ.get("SOURCE_DATE_EPOCH", "").strip():
            entries["CreationDate"] = entries["ModDate"] = PDFDate(ts=document._timeStamp)
        return PDFDictionary(entries).format(document)


def render_pdf(
    comic: Comic,
    plans: list[PagePlan],
    panel_images: list[list[Image.Image]],
    provenance: str,
) -> bytes:
    """Draw the planned pages into PDF bytes (padded to an even count when the comic asks)."""
    if len(plans) != len(panel_images):
        raise ValueError(f"{len(plans)} page plans but images for {len(panel_images)} pages")
    for weight in CHAINS.values():
        for key in weight:
            load_font(key)
    # Binary (Flate-only) streams: ReportLab's ASCII85 layer makes images 25 % larger and,
    # without its optional C accelerator, spends ~1 s per panel in pure-Python encoding.
    a85, rl_config.useA85 = rl_config.useA85, 0
    try:
        return _render(comic, plans, panel_images, provenance)
    finally:
        rl_config.useA85 = a85


def _render(
    comic: Comic,
    plans: list[PagePlan],
    panel_images: list[list[Image.Image]],
    provenance: str,
) -> bytes:
    buffer = io.BytesIO()
    first = plans[0]
    canvas = Canvas(
        buffer,
        pagesize=(first.media.w, first.media.h),
        invariant=1,
        pageCompression=1,
        # The default initial font is Helvetica, which would be referenced but not embedded.
        initialFontName=CHAINS["regular"][0],
    )
    info = _BookInfo()
    info.title = comic.comic.title
    info.author = ", ".join(comic.comic.authors)
    info.subject = provenance
    info.keywords = "comic"
    info.creator = CREATOR
    info.producer = f"{CREATOR} (ReportLab)"
    info.provenance = provenance
    info.invariant = 1
    canvas._doc.info = info  # reportlab has no public hook for custom info entries
    for plan, images in zip(plans, panel_images, strict=True):
        _draw_page(canvas, plan, images)
    if comic.comic.pad_to_even and len(plans) % 2:
        _set_boxes(canvas, plans[-1])
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def write_pdf(
    comic: Comic,
    plans: list[PagePlan],
    panel_images: list[list[Image.Image]],
    out: Path,
    provenance: str,
) -> Path:
    """Write the book's PDF to `out` atomically (the old file survives any failure)."""
    data = render_pdf(comic, plans, panel_images, provenance)
    with atomic_output(out) as handle:
        handle.write(data)
    return out


class _Page:
    """Page coordinates (trim top-left origin, y down) to PDF's (bottom-left, y up)."""

    def __init__(self, plan: PagePlan):
        self.bleed = plan.bleed
        self.top = plan.bleed + plan.trim_height

    def point(self, x: float, y: float) -> tuple[float, float]:
        return self.bleed + x, self.top - y

    def rect(self, rect: Rect) -> tuple[float, float, float, float]:
        x, y = self.point(rect.x, rect.bottom)
        return x, y, rect.w, rect.h


def _set_boxes(canvas: Canvas, plan: PagePlan) -> None:
    page = _Page(plan)
    media = plan.media
    canvas.setPageSize((media.w, media.h))
    x, y, w, h = page.rect(plan.trim)
    canvas.setTrimBox((x, y, x + w, y + h))
    canvas.setBleedBox((0, 0, media.w, media.h))
    x, y, w, h = page.rect(plan.live_area)
    canvas.setArtBox((x, y, x + w, y + h))


def _draw_page(canvas: Canvas, plan: PagePlan, images: list[Image.Image]) -> None:
    if len(images) != len(plan.frames):
        raise ValueError(
            f"page {plan.index + 1}: {len(plan.frames)} frames but {len(images)} images"
        )
    _set_boxes(canvas, plan)
    page = _Page(plan)
    for frame, image in zip(plan.frames, images, strict=True):
        _draw_art(canvas, page, frame, image)
    for frame in plan.frames:
        _draw_border(canvas, page, frame)
    # Sound effects sit on the art, under any balloon that shares their space.
    for balloon in sorted(plan.balloons, key=lambda b: b.kind != "sfx"):
        _draw_balloon(canvas, page, balloon)
    canvas.showPage()


def _draw_art(canvas: Canvas, page: _Page, frame: FramePlan, image: Image.Image) -> None:
    if image.size != frame.art_size:
        raise ValueError(
            f"panel {frame.rect} was planned for {frame.art_size} px art, got {image.size}"
        )
    piece = image.convert("RGB").crop(frame.crop.box())
    x, y, w, h = page.rect(frame.rect)
    canvas.drawImage(ImageReader(piece), x, y, width=w, height=h)


def _draw_border(canvas: Canvas, page: _Page, frame: FramePlan) -> None:
    edges = frame.border_edges
    if not edges:
        return
    canvas.setStrokeColor(HexColor("#000000"))
    canvas.setLineWidth(FRAME_LINE)
    canvas.setDash()
    x, y, w, h = page.rect(frame.rect)
    if len(edges) == 4:
        canvas.setLineJoin(0)
        canvas.rect(x, y, w, h, stroke=1, fill=0)
        return
    canvas.setLineCap(2)  # projecting caps close the corners where two edges meet
    ends = {
        "left": (x, y, x, y + h),
        "right": (x + w, y, x + w, y + h),
        "top": (x, y + h, x + w, y + h),
        "bottom": (x, y, x + w, y),
    }
    for edge in edges:
        canvas.line(*ends[edge])
    canvas.setLineCap(0)


def _draw_balloon(canvas: Canvas, page: _Page, balloon: BalloonPlan) -> None:
    canvas.saveState()
    if balloon.angle:
        cx, cy = page.point(*balloon.box.centre)
        canvas.translate(cx, cy)
        canvas.rotate(balloon.angle)
        canvas.translate(-cx, -cy)
    canvas.setLineWidth(balloon.line_width)
    canvas.setLineJoin(1)
    if balloon.fill:
        canvas.setFillColor(HexColor(balloon.fill))
    if balloon.stroke:
        canvas.setStrokeColor(HexColor(balloon.stroke))
    if balloon.dashed:
        canvas.setDash(3, 2)
    if balloon.outline:
        path = canvas.beginPath()
        path.moveTo(*page.point(*balloon.outline[0]))
        for point in balloon.outline[1:]:
            path.lineTo(*page.point(*point))
        path.close()
        canvas.drawPath(path, stroke=1 if balloon.stroke else 0, fill=1 if balloon.fill else 0)
    for x, y, r in balloon.bubbles:
        canvas.circle(*page.point(x, y), r, stroke=1, fill=1)
    canvas.setDash()
    canvas.setFillColor(HexColor(balloon.text_colour))
    if balloon.text_outline:
        canvas.setStrokeColor(HexColor(balloon.text_outline))
    for line in balloon.lines:
        text = canvas.beginText(*page.point(line.x, line.baseline))
        # Mode 2 fills and strokes the glyphs: outlined sound-effect lettering.
        text.setTextRenderMode(2 if balloon.text_outline else 0)
        for run in line.runs:
            load_font(run.font)
            text.setFont(run.font, line.size)
            text.textOut(run.text)
        canvas.drawText(text)
    canvas.restoreState()
