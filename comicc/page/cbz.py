"""The CBZ export: trimmed page images at the print DPI, zipped with a ComicInfo.xml."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from comicc.files import atomic_output
from comicc.manifest.models import Comic
from comicc.page.pageplan import PagePlan
from comicc.page.pdf import ArtPiece, render_pdf

JPEG_QUALITY = 90
# Zip entries carry this timestamp so identical books give identical archives.
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def rasterize(pdf: bytes, plans: list[PagePlan], dpi: int) -> list[Image.Image]:
    """Render each planned page of `pdf` at `dpi`, cut to the trim (readers show no bleed)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for index, plan in enumerate(plans):
            page = document[index]
            bleed = plan.bleed
            bitmap = page.render(scale=dpi / 72.0, crop=(bleed, bleed, bleed, bleed))
            pages.append(bitmap.to_pil().convert("RGB"))
            page.close()
        return pages
    finally:
        document.close()


def comic_info(comic: Comic, pages: list[Image.Image], sizes: list[int], provenance: str) -> bytes:
    """ComicInfo.xml (the de facto CBZ metadata) for these page images."""
    root = ET.Element(
        "ComicInfo",
        {
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
        },
    )
    meta = comic.comic
    fields = [
        ("Title", meta.title),
        ("Notes", provenance),
        ("Writer", ", ".join(meta.authors)),
        ("PageCount", str(len(pages))),
        ("LanguageISO", meta.language),
        ("Manga", "YesAndRightToLeft" if meta.reading == "rtl" else "No"),
    ]
    for tag, value in fields:
        if value:
            ET.SubElement(root, tag).text = value
    listing = ET.SubElement(root, "Pages")
    for index, (image, size) in enumerate(zip(pages, sizes, strict=True)):
        ET.SubElement(
            listing,
            "Page",
            {
                "Image": str(index),
                "Type": "FrontCover" if index == 0 else "Story",
                "ImageSize": str(size),
                "ImageWidth": str(image.width),
                "ImageHeight": str(image.height),
            },
        )
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_cbz(
    comic: Comic,
    plans: list[PagePlan],
    panel_images: Sequence[Sequence[Image.Image | ArtPiece]],
    out: Path,
    provenance: str,
    dpi: int | None = None,
) -> Path:
    """Write a CBZ of the book to `out` atomically; `dpi` defaults to the comic's print DPI."""
    pdf = render_pdf(comic, plans, panel_images, provenance)
    pages = rasterize(pdf, plans, dpi or comic.comic.dpi)
    digits = max(3, len(str(len(pages))))
    entries: dict[str, bytes] = {}
    for index, page in enumerate(pages, start=1):
        encoded = io.BytesIO()
        page.save(encoded, "JPEG", quality=JPEG_QUALITY, dpi=(dpi or comic.comic.dpi,) * 2)
        entries[f"page-{index:0{digits}d}.jpg"] = encoded.getvalue()
    sizes = [len(data) for data in entries.values()]
    entries["ComicInfo.xml"] = comic_info(comic, pages, sizes, provenance)
    with atomic_output(out) as handle, zipfile.ZipFile(handle, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            # JPEGs are already compressed; deflating them again only costs time.
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
            )
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    return out
