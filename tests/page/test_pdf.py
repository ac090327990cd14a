"""The PDF: boxes, embedded fonts, real text, page count, pixels, reproducibility, atomic writes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pypdf
import pypdfium2 as pdfium
import pytest

from comicc import files as output
from comicc.manifest.diagnostics import DiagnosticSink
from comicc.page.pdf import ArtPiece, art_piece, write_pdf

from .conftest import COLOURS, PROVENANCE, images_for, make_book, make_comic, plan_book

BLEED = 9.0  # the default 0.125in


def build(comic, tmp_path: Path, name: str = "book.pdf") -> tuple[Path, DiagnosticSink]:
    sink = DiagnosticSink()
    out = make_book(comic, tmp_path, None, tmp_path / name, sink=sink, provenance=PROVENANCE)
    return out, sink


def box(page: pypdf.PageObject, name: str) -> list[float]:
    return [float(v) for v in getattr(page, name)]


def test_boxes_media_is_trim_grown_by_the_bleed(tmp_path: Path, lettered) -> None:
    out, _ = build(lettered, tmp_path)
    width, height = lettered.comic.trim_points()
    for page in pypdf.PdfReader(out).pages:
        trim = box(page, "trimbox")
        assert trim == pytest.approx([BLEED, BLEED, BLEED + width, BLEED + height])
        assert box(page, "mediabox") == pytest.approx(
            [trim[0] - BLEED, trim[1] - BLEED, trim[2] + BLEED, trim[3] + BLEED]
        )
        assert box(page, "bleedbox") == pytest.approx(box(page, "mediabox"))
        art = box(page, "artbox")
        assert art[0] == pytest.approx(BLEED + 18) and art[2] == pytest.approx(BLEED + width - 18)


@pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="pdfinfo (poppler-utils) not installed")
def test_pdfinfo_agrees_on_the_boxes(tmp_path: Path, lettered) -> None:
    out, _ = build(lettered, tmp_path)
    info = subprocess.run(
        ["pdfinfo", "-box", str(out)], capture_output=True, text=True, check=True
    ).stdout

    def parsed(name: str) -> list[float]:
        line = re.search(rf"^{name}:\s+(.*)$", info, re.M)
        assert line, info
        return [float(v) for v in line.group(1).split()]

    trim, media = parsed("TrimBox"), parsed("MediaBox")
    assert media == pytest.approx(
        [trim[0] - BLEED, trim[1] - BLEED, trim[2] + BLEED, trim[3] + BLEED]
    )


def embedded_fonts(out: Path) -> dict[str, bool]:
    fonts: dict[str, bool] = {}
    for page in pypdf.PdfReader(out).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            fonts[str(font["/BaseFont"])] = "/FontFile2" in descriptor or "/FontFile3" in descriptor
    return fonts


def test_every_font_is_embedded_and_subset(tmp_path: Path, lettered) -> None:
    out, _ = build(lettered, tmp_path)
    fonts = embedded_fonts(out)
    assert any("ComicNeue-Regular" in name for name in fonts)
    assert any("ComicNeue-Bold" in name for name in fonts)
    assert all(fonts.values()), fonts
    assert all(re.match(r"/[A-Z]{6}\+", name) for name in fonts), fonts


@pytest.mark.skipif(
    shutil.which("pdffonts") is None, reason="pdffonts (poppler-utils) not installed"
)
def test_pdffonts_reports_every_font_embedded(tmp_path: Path, lettered) -> None:
    out, _ = build(lettered, tmp_path)
    rows = subprocess.run(
        ["pdffonts", str(out)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert rows
    for row in rows:
        emb, sub = row.split()[-5:-3]
        assert (emb, sub) == ("yes", "yes"), row


def test_balloon_text_is_real_text(tmp_path: Path, lettered) -> None:
    out, _ = build(lettered, tmp_path)
    reader = pypdf.PdfReader(out)
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    for page in lettered.page:
        for panel in page.panel:
            for balloon in panel.balloons:
                assert balloon.text in text, (balloon.text, text)


def test_metadata_and_provenance(tmp_path: Path, lettered, monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    out, _ = build(lettered, tmp_path)
    meta = pypdf.PdfReader(out).metadata
    assert meta["/Title"] == "Test Comic"
    assert meta["/Author"] == "A. Author"
    assert meta["/Subject"] == PROVENANCE and meta["/Provenance"] == PROVENANCE
    assert meta["/Creator"].startswith("comicc")
    assert "/CreationDate" not in meta
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    dated, _ = build(lettered, tmp_path, "dated.pdf")
    assert pypdf.PdfReader(dated).metadata["/CreationDate"].startswith("D:20231114")


def test_page_count_and_pad_to_even(tmp_path: Path) -> None:
    pages = [{"layout": "splash", "panel": [{}]} for _ in range(3)]
    out, _ = build(make_comic(tmp_path, pages), tmp_path)
    assert len(pypdf.PdfReader(out).pages) == 3
    padded, _ = build(make_comic(tmp_path, pages, pad_to_even=True), tmp_path, "even.pdf")
    reader = pypdf.PdfReader(padded)
    assert len(reader.pages) == 4
    assert box(reader.pages[3], "trimbox") == box(reader.pages[0], "trimbox")


def render(out: Path, index: int, dpi: int = 36):
    document = pdfium.PdfDocument(out)
    image = document[index].render(scale=dpi / 72).to_pil().convert("RGB")
    document.close()
    return image


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def close(a, b, tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_rendered_page_shows_art_in_frames_and_white_gutters(tmp_path: Path) -> None:
    comic = make_comic(tmp_path, [{"layout": "grid-2x2", "panel": [{} for _ in range(4)]}])
    out, _ = build(comic, tmp_path)
    scale = 36 / 72
    image = render(out, 0)
    plan = plan_book(comic, tmp_path, images_for(comic, tmp_path), DiagnosticSink())[0]
    for j, frame in enumerate(plan.frames):
        # Sample the upper part of the frame: the art's figure sits lower down.
        x = (BLEED + frame.rect.x + frame.rect.w / 2) * scale
        y = (BLEED + frame.rect.y + frame.rect.h * 0.25) * scale
        assert close(image.getpixel((int(x), int(y))), rgb(COLOURS[j])), j
    left, right = plan.frames[0].rect, plan.frames[1].rect
    gutter_x = (BLEED + (left.right + right.x) / 2) * scale
    gutter_y = (BLEED + left.y + left.h / 2) * scale
    assert image.getpixel((int(gutter_x), int(gutter_y))) == (255, 255, 255)
    # The outer margin is white too, and the frame border is dark.
    assert image.getpixel((2, 2)) == (255, 255, 255)
    border = image.getpixel((int((BLEED + left.x) * scale), int(gutter_y)))
    assert sum(border) < 3 * 128


def test_splash_art_runs_into_the_bleed(tmp_path: Path) -> None:
    comic = make_comic(tmp_path, [{"layout": "splash", "panel": [{}]}])
    out, _ = build(comic, tmp_path)
    image = render(out, 0)
    assert close(image.getpixel((1, 1)), rgb(COLOURS[0]))
    assert close(image.getpixel((image.width - 2, image.height // 4)), rgb(COLOURS[0]))


def test_rtl_book_mirrors_the_art(tmp_path: Path) -> None:
    comic = make_comic(
        tmp_path, [{"layout": "wide-over-two", "panel": [{} for _ in range(3)]}], reading="rtl"
    )
    out, _ = build(comic, tmp_path)
    image = render(out, 0)
    y = int(image.height * 0.6)
    # Panel 2 (second colour) is on the right, panel 3 on the left.
    assert close(image.getpixel((int(image.width * 0.75), y)), rgb(COLOURS[1]))
    assert close(image.getpixel((int(image.width * 0.25), y)), rgb(COLOURS[2]))


def test_same_inputs_give_identical_bytes(tmp_path: Path, lettered, monkeypatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first, _ = build(lettered, tmp_path, "one.pdf")
    second, _ = build(lettered, tmp_path, "two.pdf")
    assert first.read_bytes() == second.read_bytes()


def test_pieces_encoded_beforehand_give_the_same_bytes(tmp_path: Path, lettered,
                                                      monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    sink = DiagnosticSink()
    images = images_for(lettered, tmp_path)
    plans = plan_book(lettered, tmp_path, images, sink)
    pieces = [[ArtPiece.from_bytes(art_piece(image, frame).to_bytes())
               for image, frame in zip(page, plan.frames, strict=True)]
              for page, plan in zip(images, plans, strict=True)]
    drawn = write_pdf(lettered, plans, images, tmp_path / "drawn.pdf", PROVENANCE)
    encoded = write_pdf(lettered, plans, pieces, tmp_path / "pieces.pdf", PROVENANCE)
    assert drawn.read_bytes() == encoded.read_bytes()


def test_failed_write_keeps_the_old_pdf_and_leaves_no_temp_file(
    tmp_path: Path, lettered, monkeypatch
) -> None:
    out, _ = build(lettered, tmp_path)
    before = out.read_bytes()

    def exploding_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(output.os, "replace", exploding_replace)
    images = images_for(lettered, tmp_path)
    plans = plan_book(lettered, tmp_path, images, DiagnosticSink())
    with pytest.raises(OSError, match="disk full"):
        write_pdf(lettered, plans, images, out, PROVENANCE)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_failure_mid_write_keeps_the_old_pdf(tmp_path: Path, lettered, monkeypatch) -> None:
    out, _ = build(lettered, tmp_path)
    before = out.read_bytes()
    real = output.os.fsync

    def failing_fsync(fd):
        real(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(output.os, "fsync", failing_fsync)
    with pytest.raises(KeyboardInterrupt):
        build(lettered, tmp_path)
    assert out.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("fmt", ["manga-b6", "a4"])
def test_other_formats(tmp_path: Path, fmt: str) -> None:
    comic = make_comic(
        tmp_path, [{"layout": "three-tier", "panel": [{} for _ in range(3)]}], format=fmt
    )
    out, _ = build(comic, tmp_path)
    width, height = comic.comic.trim_points()
    trim = box(pypdf.PdfReader(out).pages[0], "trimbox")
    assert trim[2] - trim[0] == pytest.approx(width, abs=0.01)
    assert trim[3] - trim[1] == pytest.approx(height, abs=0.01)
