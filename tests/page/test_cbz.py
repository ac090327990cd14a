"""The CBZ export: page images, ComicInfo.xml and a deterministic archive."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from PIL import Image

from comicc.manifest.diagnostics import DiagnosticSink
from comicc.page.cbz import write_cbz

from .conftest import PROVENANCE, images_for, make_book, make_comic, plan_book


def test_cbz_has_trimmed_pages_and_comic_info(tmp_path: Path, lettered) -> None:
    out = make_book(
        lettered,
        tmp_path,
        None,
        tmp_path / "book.cbz",
        sink=DiagnosticSink(),
        provenance=PROVENANCE,
    )
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert names == sorted(names)
        pages = [n for n in names if n.endswith(".jpg")]
        assert len(pages) == 2
        first = Image.open(io.BytesIO(archive.read(pages[0])))
        width, height = lettered.comic.trim_points()
        # Rendered at the comic's DPI (72 here) and cut to the trim: no bleed in a reader.
        assert abs(first.width - width) <= 1 and abs(first.height - height) <= 1
        info = ET.fromstring(archive.read("ComicInfo.xml"))
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in archive.infolist())
    assert info.findtext("Title") == "Test Comic"
    assert info.findtext("Writer") == "A. Author"
    assert info.findtext("PageCount") == "2"
    assert info.findtext("Manga") == "No"
    assert info.findtext("Notes") == PROVENANCE
    entries = info.find("Pages").findall("Page")
    assert [e.get("Image") for e in entries] == ["0", "1"]
    assert entries[0].get("Type") == "FrontCover"


def test_rtl_cbz_is_marked_manga_and_is_reproducible(tmp_path: Path) -> None:
    comic = make_comic(tmp_path, [{"layout": "two-tier", "panel": [{}, {}]}], reading="rtl")
    images = images_for(comic, tmp_path)
    plans = plan_book(comic, tmp_path, images, DiagnosticSink())
    one = write_cbz(comic, plans, images, tmp_path / "one.cbz", PROVENANCE, dpi=36)
    two = write_cbz(comic, plans, images, tmp_path / "two.cbz", PROVENANCE, dpi=36)
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as archive:
        info = ET.fromstring(archive.read("ComicInfo.xml"))
    assert info.findtext("Manga") == "YesAndRightToLeft"
