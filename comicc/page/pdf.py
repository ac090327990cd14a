"""The print-ready PDF: one page per comic page, trim + bleed boxes, embedded subset fonts.

Each PDF page's MediaBox is the trim grown by the bleed on every side; TrimBox, BleedBox
and ArtBox (the live area inside the safe margin) are set for the printer. Panel art is
embedded at the full resolution of its crop, lettering is real (searchable) text in
embedded TrueType subsets, and the same inputs always give the same bytes.

With `PrintSettings` for PDF/X (`comicc.page.colour`, `comicc.page.pdfx`) the same pages are
drawn in the output intent's colours and the document carries the PDF/X identification.
"""

from __future__ import annotations

import io
import json
import math
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from reportlab import rl_config
from reportlab.lib.colors import CMYKColor, Color, HexColor
from reportlab.lib.utils import _digester
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import (
    PDFArray,
    PDFDate,
    PDFDictionary,
    PDFImageXObject,
    PDFInfo,
    PDFName,
    PDFStream,
    PDFString,
)
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.textobject import PDFTextObject

import comicc
from comicc.files import atomic_output
from comicc.manifest.models import Comic
from comicc.page.colour import PLAIN, PrintSettings, cmyk_colour, to_cmyk
from comicc.page.fonts import CHAINS, char_for_glyph, load_font
from comicc.page.geometry import Rect
from comicc.page.pageplan import BalloonPlan, FramePlan, PagePlan, TextLine
from comicc.page.pdfx import VERSIONS, Identity, build_epoch, info_entries, mark_pdfx
from comicc.page.shaping import Glyph

FRAME_LINE = 1.0  # panel border width in points
CREATOR = f"comicc {comicc.__version__}"
COLOUR_SPACES = {"RGB": "DeviceRGB", "CMYK": "DeviceCMYK"}


@dataclass(frozen=True)
class ArtPiece:
    """A panel's art as its frame prints it (cropped, in the book's colours), encoded as a
    PDF image stream once: Flate-compressed samples, with PNG's row filters (PDF's PNG
    predictors) for RGB art, which halves a styled book (a 180-panel draft: 241 -> 110 MB).

    Encoding is most of a PDF's cost (decode, crop, compress: ~0.1 s a panel); a build
    caches each piece, so rewriting a 180-panel book after a balloon edit encodes none.
    """

    name: str  # the XObject's name: a digest of the samples, as reportlab's drawImage names
    mode: str  # "RGB" or "CMYK"
    width: int
    height: int
    data: bytes
    predicted: bool = False  # rows carry PNG filter bytes (/DecodeParms /Predictor 15)

    def to_bytes(self) -> bytes:
        header = json.dumps({"name": self.name, "mode": self.mode, "width": self.width,
                             "height": self.height, "predicted": self.predicted}).encode()
        return header + b"\n" + self.data

    @classmethod
    def from_bytes(cls, blob: bytes) -> ArtPiece:
        header, data = blob.split(b"\n", 1)
        fields = json.loads(header)
        return cls(fields["name"], fields["mode"], fields["width"], fields["height"], data,
                   fields["predicted"])


def art_piece(image: Image.Image, frame: FramePlan,
              printing: PrintSettings = PLAIN) -> ArtPiece:
    """Encode the part of `image` that fills `frame`, as the book `printing` describes
    prints it."""
    if image.size != frame.art_size:
        raise ValueError(
            f"panel {frame.rect} was planned for {frame.art_size} px art, got {image.size}"
        )
    piece = _Press(printing).art(image.convert("RGB").crop(frame.crop.box()))
    raw = piece.tobytes()
    name = _digester(raw + b"None")
    if piece.mode != "RGB":  # PNG has no CMYK: plain Flate
        return ArtPiece(name, piece.mode, *piece.size, zlib.compress(raw))
    return ArtPiece(name, piece.mode, *piece.size, _png_rows(piece), predicted=True)


def _png_rows(image: Image.Image) -> bytes:
    """The zlib stream of an RGB image's PNG encoding (its IDAT chunks, joined): filtered
    rows, exactly what PDF's FlateDecode with PNG predictors reads."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=6)
    png, at, rows = out.getvalue(), 8, []
    while at < len(png):
        length, kind = int.from_bytes(png[at:at + 4], "big"), png[at + 4:at + 8]
        if kind == b"IDAT":
            rows.append(png[at + 8:at + 8 + length])
        at += 12 + length
    return b"".join(rows)


class _PieceXObject(PDFImageXObject):
    """An image XObject made from an `ArtPiece` (reportlab's own cannot carry predictors)."""

    def __init__(self, piece: ArtPiece) -> None:
        super().__init__(piece.name)
        self.piece = piece
        self.width, self.height, self.bitsPerComponent = piece.width, piece.height, 8
        self.colorSpace = COLOUR_SPACES[piece.mode]
        self.streamContent = piece.data

    def format(self, document):  # type: ignore[no-untyped-def]
        entries = {"Type": PDFName("XObject"), "Subtype": PDFName("Image"),
                   "Width": self.width, "Height": self.height, "BitsPerComponent": 8,
                   "ColorSpace": PDFName(self.colorSpace),
                   "Filter": PDFArray([PDFName("FlateDecode")]),
                   "Length": len(self.streamContent)}
        if self.piece.predicted:
            entries["DecodeParms"] = PDFArray([PDFDictionary({
                "Predictor": 15, "Colors": 3, "BitsPerComponent": 8,
                "Columns": self.width})])
        stream = PDFStream(content=self.streamContent)
        stream.dictionary = PDFDictionary(entries)
        return stream.format(document)


class _BookInfo(PDFInfo):
    """The document info dictionary, with a provenance entry and dates only when asked for.

    Dates appear only when SOURCE_DATE_EPOCH is set (reproducible builds); otherwise the
    file carries no date, so identical inputs give identical bytes.
    """

    provenance = ""
    pdfx: dict[str, object] = {}  # PDF/X keys (with their dates), empty for a plain PDF

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
        entries.update(self.pdfx)
        return PDFDictionary(entries).format(document)


def render_pdf(
    comic: Comic,
    plans: list[PagePlan],
    panel_images: Sequence[Sequence[Image.Image | ArtPiece]],
    provenance: str,
    printing: PrintSettings = PLAIN,
) -> bytes:
    """Draw the planned pages into PDF bytes (padded to an even count when the comic asks).

    `printing` picks plain RGB or a PDF/X flavour with its colour conversion. Each page's
    panels are images or pieces already encoded for this `printing` (`art_piece`).
    """
    if len(plans) != len(panel_images):
        raise ValueError(f"{len(plans)} page plans but images for {len(panel_images)} pages")
    for weight in CHAINS.values():
        for key in weight:
            load_font(key)
    # Binary (Flate-only) streams: ReportLab's ASCII85 layer makes images 25 % larger and,
    # without its optional C accelerator, spends ~1 s per panel in pure-Python encoding.
    a85, rl_config.useA85 = rl_config.useA85, 0
    try:
        return _render(comic, plans, panel_images, provenance, printing)
    finally:
        rl_config.useA85 = a85


def _render(
    comic: Comic,
    plans: list[PagePlan],
    panel_images: Sequence[Sequence[Image.Image | ArtPiece]],
    provenance: str,
    printing: PrintSettings,
) -> bytes:
    buffer = io.BytesIO()
    first = plans[0]
    pdfx = printing.intent is not None and printing.pdf != "plain"
    canvas = Canvas(
        buffer,
        pagesize=(first.media.w, first.media.h),
        invariant=1,
        pageCompression=1,
        # The default initial font is Helvetica, which would be referenced but not embedded.
        initialFontName=CHAINS["regular"][0],
        # X-1a is defined on PDF 1.3, X-4 on 1.6; a plain book keeps reportlab's default.
        **({"pdfVersion": VERSIONS[printing.pdf][1]} if pdfx else {}),
        # A guard: in a CMYK book any RGB colour that slips through is an error, not ink.
        enforceColorSpace="cmyk" if printing.cmyk else None,
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
    if pdfx:
        assert printing.intent is not None
        identity = Identity(info.title, comic.comic.authors, info.creator, info.producer,
                            build_epoch())
        info.pdfx = info_entries(printing.pdf, identity)
        mark_pdfx(canvas, printing.pdf, printing.intent, identity)
    press = _Press(printing)
    for plan, images in zip(plans, panel_images, strict=True):
        _draw_page(canvas, plan, images, press)
    if comic.comic.pad_to_even and len(plans) % 2:
        _set_boxes(canvas, plans[-1], art_box=not pdfx)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def write_pdf(
    comic: Comic,
    plans: list[PagePlan],
    panel_images: Sequence[Sequence[Image.Image | ArtPiece]],
    out: Path,
    provenance: str,
    printing: PrintSettings = PLAIN,
) -> Path:
    """Write the book's PDF to `out` atomically (the old file survives any failure)."""
    data = render_pdf(comic, plans, panel_images, provenance, printing)
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


class _Press:
    """Colours and art as the book's colour space wants them: RGB as drawn, or the intent's CMYK."""

    def __init__(self, printing: PrintSettings):
        self.printing = printing
        self.pdfx = printing.intent is not None and printing.pdf != "plain"

    def colour(self, hex_colour: str) -> Color:
        if not self.printing.cmyk:
            return HexColor(hex_colour)
        # alpha None: reportlab would otherwise mark an opaque colour as PDF 1.4 transparency.
        return CMYKColor(*cmyk_colour(hex_colour, self.printing), alpha=None)

    def art(self, piece: Image.Image) -> Image.Image:
        return to_cmyk(piece, self.printing) if self.printing.cmyk else piece


def _set_boxes(canvas: Canvas, plan: PagePlan, art_box: bool = True) -> None:
    page = _Page(plan)
    media = plan.media
    canvas.setPageSize((media.w, media.h))
    x, y, w, h = page.rect(plan.trim)
    canvas.setTrimBox((x, y, x + w, y + h))
    canvas.setBleedBox((0, 0, media.w, media.h))
    if not art_box:
        return  # PDF/X forbids an ArtBox beside the TrimBox
    x, y, w, h = page.rect(plan.live_area)
    canvas.setArtBox((x, y, x + w, y + h))


def _draw_page(canvas: Canvas, plan: PagePlan, images: Sequence[Image.Image | ArtPiece],
               press: _Press) -> None:
    if len(images) != len(plan.frames):
        raise ValueError(
            f"page {plan.index + 1}: {len(plan.frames)} frames but {len(images)} images"
        )
    _set_boxes(canvas, plan, art_box=not press.pdfx)
    page = _Page(plan)
    for frame, image in zip(plan.frames, images, strict=True):
        _draw_art(canvas, page, frame, image, press)
    for frame in plan.frames:
        _draw_border(canvas, page, frame, press)
    # Sound effects sit on the art, under any balloon that shares their space.
    for balloon in sorted(plan.balloons, key=lambda b: b.kind != "sfx"):
        _draw_balloon(canvas, page, balloon, press)
    canvas.showPage()


def _draw_art(canvas: Canvas, page: _Page, frame: FramePlan, image: Image.Image | ArtPiece,
              press: _Press) -> None:
    piece = image if isinstance(image, ArtPiece) else art_piece(image, frame, press.printing)
    # What canvas.drawImage does (reportlab 4) with the piece's own XObject: register it
    # once by its name, then draw it.
    doc = canvas._doc
    registered = doc.getXObjectName(piece.name)
    if doc.idToObject.get(registered) is None:
        xobject = _PieceXObject(piece)
        canvas._setXObjects(xobject)
        doc.Reference(xobject, registered)
        doc.addForm(piece.name, xobject)
    canvas._currentPageHasImages = 1
    x, y, w, h = page.rect(frame.rect)
    canvas.saveState()
    canvas.translate(x, y)
    canvas.scale(w, h)
    canvas._code.append(f"/{registered} Do")
    canvas.restoreState()
    canvas._formsinuse.append(piece.name)


def _draw_border(canvas: Canvas, page: _Page, frame: FramePlan, press: _Press) -> None:
    edges = frame.border_edges
    if not edges:
        return
    canvas.setStrokeColor(press.colour("#000000"))
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


def _draw_balloon(canvas: Canvas, page: _Page, balloon: BalloonPlan, press: _Press) -> None:
    canvas.saveState()
    if balloon.angle:
        cx, cy = page.point(*balloon.box.centre)
        canvas.translate(cx, cy)
        canvas.rotate(balloon.angle)
        canvas.translate(-cx, -cy)
    canvas.setLineWidth(balloon.line_width)
    canvas.setLineJoin(1)
    if balloon.fill:
        canvas.setFillColor(press.colour(balloon.fill))
    if balloon.stroke:
        canvas.setStrokeColor(press.colour(balloon.stroke))
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
    canvas.setFillColor(press.colour(balloon.text_colour))
    if balloon.text_outline:
        canvas.setStrokeColor(press.colour(balloon.text_outline))
    for line in balloon.lines:
        text = canvas.beginText()
        # Mode 2 fills and strokes the glyphs: outlined sound-effect lettering.
        text.setTextRenderMode(2 if balloon.text_outline else 0)
        _draw_line(text, page, line)
        canvas.drawText(text)
    canvas.restoreState()


def _draw_line(text: PDFTextObject, page: _Page, line: TextLine) -> None:
    """Draw a line's shaped glyphs, each where HarfBuzz put it, in the text's logical order
    (text extraction and screen readers take the order glyphs are drawn in as a hint).

    Glyphs that follow each other at their natural advance share one string, so plain
    text stays whole in the content stream; the rest are placed one by one.
    """
    starts = sorted({glyph.cluster for glyph in line.glyphs})
    ends = dict(zip(starts, [*starts[1:], len(line.text)], strict=False))  # none on an empty line
    font: str | None = None
    pending = ""  # characters set from the last placed glyph on, not yet drawn
    pen: tuple[float, float] | None = None  # where `pending` ends, if the next may join it
    for glyph in sorted(line.glyphs, key=_logical_order):
        stands_for = line.text[glyph.cluster : ends[glyph.cluster]]
        if glyph.rtl:  # readers reverse right-to-left glyphs, a ligature's text with them
            stands_for = stands_for[::-1]
        char = char_for_glyph(glyph.font, glyph.gid, stands_for)
        x, y = page.point(line.x + glyph.x, line.baseline + glyph.y)
        joins = (
            glyph.font == font
            and not glyph.angle
            and pen is not None
            and math.isclose(pen[0], x, abs_tol=1e-3)
            and math.isclose(pen[1], y, abs_tol=1e-3)
        )
        if not joins:
            if pending:
                text.textOut(pending)
            pending = ""
            if glyph.font != font:
                load_font(glyph.font)
                text.setFont(glyph.font, line.size)
                font = glyph.font
            if glyph.angle:  # sideways in vertical text, or along a sound effect's path
                c, s = math.cos(math.radians(glyph.angle)), math.sin(math.radians(glyph.angle))
                text.setTextTransform(c, s, -s, c, x, y)
            else:
                text.setTextOrigin(x, y)
        pending += char
        natural = pdfmetrics.stringWidth(char, glyph.font, line.size)
        pen = None if glyph.angle else (x + natural, y)
    if pending:
        text.textOut(pending)


def _logical_order(glyph: Glyph) -> tuple[int, float]:
    return glyph.cluster, glyph.x
