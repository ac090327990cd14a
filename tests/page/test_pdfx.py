"""PDF/X output: output intent and profile, XMP identification, CMYK-only X-1a, K-only text, ink."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pypdf
import pytest
from PIL import Image
from pypdf.generic import ContentStream

from comicc.manifest.diagnostics import AuthorError, DiagnosticSink
from comicc.manifest.models import Comic
from comicc.page.colour import GRACOL, SRGB, limit_ink, resolve_print
from comicc.page.preflight import preflight, rendered_coverage
from comicc.page.printers import PRINTERS

from .conftest import PROVENANCE, make_book, without_unmeasured_ink

needs_poppler = pytest.mark.skipif(shutil.which("pdfimages") is None, reason="poppler not installed")
needs_gs = pytest.mark.skipif(shutil.which("gs") is None, reason="Ghostscript not installed")


def with_meta(comic: Comic, **meta: object) -> Comic:
    data = comic.model_dump(mode="python", exclude_unset=True)
    data["comic"] |= meta
    return Comic.model_validate(data)


def build(comic: Comic, tmp_path: Path, name: str, pdf: str | None = None) -> Path:
    printing = resolve_print(comic, tmp_path, pdf)  # type: ignore[arg-type]
    return make_book(comic, tmp_path, None, tmp_path / name, sink=DiagnosticSink(),
                     provenance=PROVENANCE, printing=printing)


@pytest.fixture
def x1a(tmp_path: Path, lettered: Comic) -> Path:
    return build(with_meta(lettered, pdf="x1a", ink_limit=240), tmp_path, "x1a.pdf")


@pytest.fixture
def x4(tmp_path: Path, lettered: Comic) -> Path:
    return build(lettered, tmp_path, "x4.pdf", pdf="x4")


def output_intent(path: Path) -> pypdf.generic.DictionaryObject:
    intents = pypdf.PdfReader(path).trailer["/Root"]["/OutputIntents"]
    assert len(intents) == 1
    return intents[0].get_object()


def xmp(path: Path) -> str:
    return pypdf.PdfReader(path).trailer["/Root"]["/Metadata"].get_object().get_data().decode()


def operations(path: Path) -> list[tuple[list, bytes]]:
    reader = pypdf.PdfReader(path)
    return [op for page in reader.pages for op in ContentStream(page.get_contents(), reader).operations]


def test_x1a_has_an_output_intent_with_the_cmyk_profile_embedded(x1a: Path) -> None:
    intent = output_intent(x1a)
    assert intent["/S"] == "/GTS_PDFX"
    assert intent["/OutputConditionIdentifier"] == "CGATS TR 006"
    profile = intent["/DestOutputProfile"].get_object()
    assert profile["/N"] == 4
    assert profile.get_data() == GRACOL.read_bytes()


def test_x1a_is_identified_in_xmp_and_info(x1a: Path) -> None:
    reader = pypdf.PdfReader(x1a)
    assert reader.pdf_header == "%PDF-1.3"
    assert "<pdfxid:GTS_PDFXVersion>PDF/X-1a:2001</pdfxid:GTS_PDFXVersion>" in xmp(x1a)
    info = reader.trailer["/Info"].get_object()
    assert info["/GTS_PDFXVersion"] == "PDF/X-1a:2001"
    assert info["/Trapped"] == "/False"
    assert info["/CreationDate"] == info["/ModDate"]
    assert "/Encrypt" not in reader.trailer
    for page in reader.pages:
        assert "/TrimBox" in page and "/BleedBox" in page and "/ArtBox" not in page


def test_x1a_has_no_rgb_colour_and_no_transparency(x1a: Path) -> None:
    operators = {op for _, op in operations(x1a)}
    assert not operators & {b"rg", b"RG", b"cs", b"CS", b"sc", b"scn", b"gs"}
    reader = pypdf.PdfReader(x1a)
    for page in reader.pages:
        assert "/Group" not in page
        resources = page["/Resources"]
        assert "/ExtGState" not in resources
        for xobject in resources["/XObject"].values():
            image = xobject.get_object()
            assert image["/ColorSpace"] == "/DeviceCMYK"
            assert "/SMask" not in image and "/Mask" not in image


@needs_poppler
def test_poppler_sees_only_cmyk_images_and_embedded_subset_fonts(x1a: Path) -> None:
    images = subprocess.run(["pdfimages", "-list", str(x1a)], capture_output=True, text=True,
                            check=True).stdout.splitlines()[2:]
    assert images and all(line.split()[5] == "cmyk" for line in images)
    fonts = subprocess.run(["pdffonts", str(x1a)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert fonts and all(re.search(r"\byes\s+yes\b", line) for line in fonts)
    info = subprocess.run(["pdfinfo", str(x1a)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"PDF subtype:\s+PDF/X-1a:2001", info)


def text_fill_colours(path: Path) -> list[tuple[bytes, tuple[float, ...]]]:
    """The fill colour in effect at every text-showing operator."""
    colour: tuple[bytes, tuple[float, ...]] = (b"g", (0.0,))
    shown = []
    for operands, op in operations(path):
        if op in (b"k", b"rg", b"g"):
            colour = (op, tuple(float(v) for v in operands))
        elif op in (b"Tj", b"TJ", b"'", b'"'):
            shown.append(colour)
    return shown


def test_x1a_lettering_is_k_only(x1a: Path) -> None:
    colours = text_fill_colours(x1a)
    assert colours and all(op == b"k" for op, _ in colours)
    assert (b"k", (0.0, 0.0, 0.0, 1.0)) in colours  # dialogue: pure K
    for _, (c, m, y, k) in colours:
        assert not (k > 0.5 and min(c, m, y) > 0.2), "four-colour black lettering"
    strokes = {tuple(float(v) for v in operands) for operands, op in operations(x1a) if op == b"K"}
    assert (0.0, 0.0, 0.0, 1.0) in strokes  # panel borders and balloon outlines


def image_coverage(path: Path) -> float:
    """The highest C+M+Y+K (percent) in any placed image, from the image data itself."""
    peak = 0.0
    for page in pypdf.PdfReader(path).pages:
        for image in page.images:
            data = np.asarray(Image.open(io.BytesIO(image.data)).convert("CMYK"), dtype=np.int32)
            peak = max(peak, data.sum(axis=-1).max() * 100 / 255)
    return peak


def test_x1a_art_is_within_the_ink_limit(x1a: Path) -> None:
    assert 150 < image_coverage(x1a) <= 240


@needs_gs
def test_x1a_rendered_coverage_is_within_the_ink_limit_on_every_page(x1a: Path) -> None:
    coverage = rendered_coverage(x1a)
    assert coverage is not None and len(coverage) == 2
    assert all(peak <= 240.5 for peak, _, _ in coverage)
    assert max(peak for peak, _, _ in coverage) > 150


def test_x1a_passes_the_structural_checks_of_ingramspark(x1a: Path) -> None:
    findings = preflight(x1a, PRINTERS["ingramspark"], ink_limit=240)
    # The test art is tiny (72 dpi); everything else about the file must pass (where
    # Ghostscript is missing, its ink coverage is a warning that it was not measured).
    assert [f for f in without_unmeasured_ink(findings) if f.code != "resolution"] == []


def test_x4_keeps_rgb_under_an_srgb_output_intent(x4: Path) -> None:
    reader = pypdf.PdfReader(x4)
    assert reader.pdf_header == "%PDF-1.6"
    assert "<pdfxid:GTS_PDFXVersion>PDF/X-4</pdfxid:GTS_PDFXVersion>" in xmp(x4)
    profile = output_intent(x4)["/DestOutputProfile"].get_object()
    assert profile["/N"] == 3 and profile.get_data() == SRGB.read_bytes()
    image = next(iter(reader.pages[0]["/Resources"]["/XObject"].values())).get_object()
    assert image["/ColorSpace"] == "/DeviceRGB"


def test_x4_with_a_users_cmyk_profile_converts_the_art(tmp_path: Path, lettered: Comic) -> None:
    shutil.copy(GRACOL, tmp_path / "press.icc")
    out = build(with_meta(lettered, pdf="x4", icc_profile="press.icc"), tmp_path, "x4c.pdf")
    assert output_intent(out)["/DestOutputProfile"].get_object()["/N"] == 4
    image = next(iter(pypdf.PdfReader(out).pages[0]["/Resources"]["/XObject"].values()))
    assert image.get_object()["/ColorSpace"] == "/DeviceCMYK"


def test_a_profile_that_is_not_cmyk_is_an_author_error(tmp_path: Path, lettered: Comic) -> None:
    shutil.copy(SRGB, tmp_path / "screen.icc")
    with pytest.raises(AuthorError) as raised:
        resolve_print(with_meta(lettered, pdf="x1a", icc_profile="screen.icc"), tmp_path)
    assert raised.value.diagnostics[0].key_path == ("comic", "icc_profile")
    assert "not a CMYK printer profile" in raised.value.diagnostics[0].message
    with pytest.raises(AuthorError, match="cannot read the ICC profile"):
        resolve_print(with_meta(lettered, pdf="x1a", icc_profile="missing.icc"), tmp_path)


def test_plain_is_unchanged_by_the_print_settings(tmp_path: Path, lettered: Comic) -> None:
    default = make_book(lettered, tmp_path, None, tmp_path / "a.pdf", sink=DiagnosticSink(),
                        provenance=PROVENANCE)
    plain = build(with_meta(lettered, ink_limit=240, rendering_intent="perceptual"), tmp_path,
                  "b.pdf")
    assert default.read_bytes() == plain.read_bytes()
    root = pypdf.PdfReader(plain).trailer["/Root"]
    assert "/OutputIntents" not in root and "/Metadata" not in root


def test_limit_ink_caps_total_coverage_and_keeps_black() -> None:
    rng = np.random.default_rng(0)
    cmyk = rng.integers(0, 256, size=(64, 64, 4), dtype=np.uint8)
    limited = limit_ink(cmyk, 240)
    totals = limited.astype(int).sum(axis=-1)
    assert totals.max() <= 240 * 255 // 100
    under = cmyk.astype(int).sum(axis=-1) <= 240 * 255 // 100
    assert (limited[under] == cmyk[under]).all()
    assert (limited[..., 3] == cmyk[..., 3]).all()


SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "lighthouse"


@pytest.fixture(scope="module")
def sample_books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """The lighthouse sample built (raw art) as plain, x4 and x1a: path and the build's stderr.

    For IngramSpark, at a `dpi` below its 300: the page planner accepts the art, the printer
    not (the sample is drawn for 300 DPI, so one panel is shrunk to a third for this).
    """
    from PIL import Image

    from comicc.cli import main

    root = tmp_path_factory.mktemp("sample")
    shutil.copytree(SAMPLE, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".comicc"))
    panel = root / "art" / "p1_1.png"
    with Image.open(panel) as image:
        image.convert("RGB").resize((image.width // 3, image.height // 3)).save(panel)
    manifest = root / "comic.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace("dpi = 300", 'dpi = 100\nprinter = "ingramspark"'), "utf-8")
    books = {}
    for flavour in ("plain", "x4", "x1a"):
        out = root / f"{flavour}.pdf"
        with pytest.MonkeyPatch.context() as patch:
            errors = io.StringIO()
            patch.setattr("sys.stderr", errors)
            assert main(["build", str(root), "--backend", "none", "--pdf", flavour,
                         "-o", str(out), "--no-report", "-q"]) == 0
        books[flavour] = (out, errors.getvalue())
    return books


def test_sample_builds_as_x1a_and_x4(sample_books: dict[str, tuple[Path, str]]) -> None:
    x1a, x4 = sample_books["x1a"][0], sample_books["x4"][0]
    assert output_intent(x1a)["/DestOutputProfile"].get_object()["/N"] == 4
    assert "PDF/X-1a:2001" in xmp(x1a) and "PDF/X-4" in xmp(x4)
    assert not {op for _, op in operations(x1a)} & {b"rg", b"RG"}
    assert image_coverage(x1a) <= 240  # IngramSpark's limit
    assert all(op == b"k" for op, _ in text_fill_colours(x1a))


def test_the_build_preflights_what_it_wrote(sample_books: dict[str, tuple[Path, str]]) -> None:
    # A panel's raw art is below IngramSpark's 300 ppi: a print build says so, a plain one not.
    assert "warning[preflight-resolution]: page 1, image /" in sample_books["x1a"][1]
    assert "hint: ingramspark: images at 300 ppi or more" in sample_books["x1a"][1]
    assert "preflight" not in sample_books["plain"][1]
    plain = pypdf.PdfReader(sample_books["plain"][0]).trailer["/Root"]
    assert "/OutputIntents" not in plain


@needs_gs
def test_sample_x1a_rendered_coverage_is_within_the_limit(
        sample_books: dict[str, tuple[Path, str]]) -> None:
    coverage = rendered_coverage(sample_books["x1a"][0])
    assert coverage is not None and len(coverage) == 2
    assert all(peak <= 240.5 for peak, _, _ in coverage)


def test_x1a_is_reproducible_with_source_date_epoch(tmp_path: Path, lettered: Comic,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    comic = with_meta(lettered, pdf="x1a")
    first, second = build(comic, tmp_path, "a.pdf"), build(comic, tmp_path, "b.pdf")
    assert first.read_bytes() == second.read_bytes()
    assert "<xmp:CreateDate>2023-11-14T22:13:20Z</xmp:CreateDate>" in xmp(first)
    info = pypdf.PdfReader(first).trailer["/Info"].get_object()
    assert info["/CreationDate"] == "D:20231114221320+00'00'"


def test_the_pdf_flag_overrides_the_manifest(tmp_path: Path, lettered: Comic) -> None:
    comic = with_meta(lettered, pdf="x1a", printer="ingramspark")
    assert resolve_print(comic, tmp_path).pdf == "x1a"
    assert resolve_print(comic, tmp_path).ink_limit == 240  # IngramSpark's default
    assert resolve_print(comic, tmp_path, "plain").intent is None
    assert resolve_print(comic, tmp_path, "x4").cmyk is False  # sRGB output intent
