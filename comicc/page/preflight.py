"""`comicc preflight`: check a PDF against a printer's specification, finding by finding.

Each problem is one `Finding`: the page, the object (a box, an image, a font, the content
stream), what is wrong and the printer's limit. Errors are what the printer would reject;
warnings are worth a look. The checks read the file's structure with pypdf (boxes, placed
images and the matrix they are drawn with, fonts, colour operators, transparency, PDF/X keys)
and measure ink on pages rendered to CMYK by Ghostscript, where it is installed.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pypdf
from PIL import Image
from pypdf.generic import ArrayObject, ContentStream, DictionaryObject, IndirectObject

from comicc.manifest.diagnostics import Diagnostic, Severity
from comicc.page.printers import PrinterSpec

INK_DPI = 100  # rendering resolution of the coverage check: finer than any ink dot gain matters
_TOLERANCE = 0.5  # points: boxes written in decimal may be a hair off
_SUBSET = re.compile(r"^[A-Z]{6}\+")
_RGB_OPERATORS = {b"rg", b"RG"}
_SPACE_OPERATORS = {b"cs": "fill", b"CS": "stroke"}
_COMPONENT_OPERATORS = {b"sc": "fill", b"scn": "fill", b"SC": "stroke", b"SCN": "stroke"}
Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@dataclass(frozen=True)
class Finding:
    """One located problem: page (1-based, None for the document), object, what, the limit."""

    code: str  # bleed | resolution | font | colour | transparency | ink | pages | pdfx
    severity: Severity  # error: the printer rejects the file
    page: int | None
    object: str
    what: str
    limit: str

    def diagnostic(self, file: Path, severity: Severity | None = None) -> Diagnostic:
        where = f"page {self.page}, " if self.page is not None else ""
        return Diagnostic(severity or self.severity, f"{where}{self.object}: {self.what}",
                          file=file, hint=self.limit, code=f"preflight-{self.code}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def findings_from_json(items: list[dict[str, Any]]) -> list[Finding]:
    return [Finding(**item) for item in items]


def preflight(path: Path, spec: PrinterSpec, ink_limit: int | None = None,
              ink_dpi: int = INK_DPI) -> list[Finding]:
    """Every finding for the PDF at `path` against `spec` (`ink_limit` overrides the spec's)."""
    reader = pypdf.PdfReader(path)
    check = _Check(reader, spec, ink_limit or spec.ink_limit)
    if reader.is_encrypted:
        return [Finding("pdfx", "error", None, "document", "the file is encrypted",
                        "printers need an unencrypted PDF; write it again without a password")]
    check.document()
    for number, page in enumerate(reader.pages, 1):
        check.page(number, page)
    if not check.rgb_seen:
        check.findings += ink_findings(path, check.ink_limit, ink_dpi, spec.name)
    return check.findings


@dataclass
class _Check:
    reader: pypdf.PdfReader
    spec: PrinterSpec
    ink_limit: int
    findings: list[Finding] = field(default_factory=list)
    version: str | None = None  # the GTS_PDFXVersion the file declares
    rgb_seen: bool = False
    top_left: tuple[float, float] = (0.0, 0.0)  # the current page's MediaBox corner, in points
    fonts_seen: set[str] = field(default_factory=set)

    def add(self, code: str, severity: Severity, page: int | None, obj: str, what: str,
            limit: str) -> None:
        self.findings.append(Finding(code, severity, page, obj, what,
                                     f"{self.spec.name}: {limit}"))

    @property
    def x1a(self) -> bool:
        """CMYK only and no transparency: the file says it is X-1a or the printer wants it."""
        return bool(self.version and self.version.startswith("PDF/X-1")) or self.spec.cmyk_only

    # -- the document --------------------------------------------------------------

    def document(self) -> None:
        self.version = _declared_version(self.reader)
        count = len(self.reader.pages)
        if count % 2:
            self.add("pages", "error" if self.spec.even_pages else "warning", None, "document",
                     f"{count} pages, an odd count", "an even page count (pad_to_even = true "
                     "in [comic] adds a blank last page)")
        wanted = self.spec.pdfx
        if wanted and self.version not in wanted:
            said = f"declares {self.version}" if self.version else "is not PDF/X"
            self.add("pdfx", "error", None, "document", f"the file {said}",
                     f"{' or '.join(wanted)} (pdf = \"x1a\" in [comic], or --pdf x1a)")
        if self.version or wanted:
            self._pdfx_keys()

    def _pdfx_keys(self) -> None:
        info = self.reader.trailer.get("/Info")
        trapped = info.get_object().get("/Trapped") if info is not None else None
        if trapped not in ("/True", "/False"):
            self.add("pdfx", "error", None, "Info /Trapped", f"is {trapped or 'missing'}",
                     "PDF/X needs /Trapped /True or /False")
        intents = self.reader.trailer["/Root"].get("/OutputIntents")
        profiles = [i.get_object().get("/DestOutputProfile")
                    for i in (intents.get_object() if intents else [])
                    if i.get_object().get("/S") == "/GTS_PDFX"]
        if not profiles:
            self.add("pdfx", "error", None, "catalog /OutputIntents", "no GTS_PDFX output intent",
                     "PDF/X names its printing condition in an output intent")
        elif self.x1a and any(p is None for p in profiles):
            self.add("pdfx", "error", None, "output intent", "no DestOutputProfile embedded",
                     "PDF/X-1a embeds the ICC profile of its printing condition")

    # -- one page ------------------------------------------------------------------

    def page(self, number: int, page: pypdf.PageObject) -> None:
        media = _box(page.mediabox)
        self.top_left = (media[0], media[3])
        self._boxes(number, page)
        self._transparency_group(number, page)
        for resources in _page_resources(page):
            self._fonts(number, resources)
        resources = _resolve(page.get("/Resources")) or DictionaryObject()
        contents = page.get_contents()
        operations = [] if contents is None else ContentStream(contents, self.reader).operations
        rgb_operators = self._content(number, operations, resources, _IDENTITY, set())
        if rgb_operators:
            self.rgb_seen = True
            if self.x1a:
                self.add("colour", "error", number, "content stream",
                         f"{rgb_operators} RGB colour operator(s)",
                         "CMYK or greyscale colours only")

    def _boxes(self, number: int, page: pypdf.PageObject) -> None:
        media = _box(page.mediabox)
        if "/TrimBox" not in page and (self.version or self.spec.pdfx):
            self.add("bleed", "error", number, "TrimBox", "missing",
                     "every PDF/X page states its trim in a TrimBox")
        trim = _box(page.trimbox) if "/TrimBox" in page else media
        bleed = _box(page.bleedbox) if "/BleedBox" in page else media
        bleed = (max(bleed[0], media[0]), max(bleed[1], media[1]),
                 min(bleed[2], media[2]), min(bleed[3], media[3]))
        sides = {"left": trim[0] - bleed[0], "bottom": trim[1] - bleed[1],
                 "right": bleed[2] - trim[2], "top": bleed[3] - trim[3]}
        if not self.spec.inner_bleed:  # the spine edge: left on a recto, right on a verso
            sides.pop("left" if number % 2 else "right")
        short = {side: amount for side, amount in sides.items()
                 if amount < self.spec.bleed - _TOLERANCE}
        if short:
            amounts = ", ".join(f"{side} {max(a, 0) / 72:.3f} in" for side, a in short.items())
            what = "no bleed" if all(a <= _TOLERANCE for a in short.values()) else "short bleed"
            self.add("bleed", "error", number, "BleedBox", f"{what} beyond the trim ({amounts})",
                     f"{self.spec.bleed / 72:.3f} in of bleed on "
                     f"{'each side' if self.spec.inner_bleed else 'the outside edges'}")

    def _transparency_group(self, number: int, page: pypdf.PageObject) -> None:
        group = _resolve(page.get("/Group"))
        if self.x1a and group is not None and group.get("/S") == "/Transparency":
            self.add("transparency", "error", number, "page /Group", "a transparency group",
                     "PDF/X-1a allows no transparency (flatten it)")

    def _content(self, number: int, operations: list, resources: DictionaryObject,
                 ctm: Matrix, seen: set[int]) -> int:
        """Walk a content stream with its matrix; returns its count of RGB colour operators."""
        stack: list[Matrix] = []
        spaces = {"fill": "Gray", "stroke": "Gray"}
        rgb = 0
        for operands, operator in operations:
            if operator == b"q":
                stack.append(ctm)
            elif operator == b"Q" and stack:
                ctm = stack.pop()
            elif operator == b"cm":
                ctm = _concat(tuple(float(v) for v in operands), ctm)  # type: ignore[arg-type]
            elif operator in _RGB_OPERATORS:
                rgb += 1
            elif operator in _SPACE_OPERATORS:
                space = _family(operands[0], resources)
                spaces[_SPACE_OPERATORS[operator]] = space
                rgb += space == "RGB"
            elif operator in _COMPONENT_OPERATORS:
                rgb += spaces[_COMPONENT_OPERATORS[operator]] == "RGB"
            elif operator == b"gs":
                self._ext_gstate(number, operands[0], resources)
            elif operator == b"Do":
                rgb += self._xobject(number, operands[0], resources, ctm, seen)
            elif operator == b"INLINE IMAGE":
                settings = operands["settings"]
                width = settings.get("/W", settings.get("/Width", 0))
                height = settings.get("/H", settings.get("/Height", 0))
                space = settings.get("/CS", settings.get("/ColorSpace", "/DeviceGray"))
                self._image(number, "inline image", int(width), int(height),
                            _family(space, resources), None, ctm)
        return rgb

    def _xobject(self, number: int, name: str, resources: DictionaryObject, ctm: Matrix,
                 seen: set[int]) -> int:
        xobjects = _resolve(resources.get("/XObject")) or {}
        ref = xobjects.get(name)
        xobject = _resolve(ref)
        if xobject is None:
            return 0
        if xobject.get("/Subtype") == "/Image":
            self._image(number, f"image {name}", int(xobject["/Width"]), int(xobject["/Height"]),
                        _family(xobject.get("/ColorSpace", "/DeviceGray"), resources),
                        xobject, ctm)
            return 0
        key = ref.idnum if isinstance(ref, IndirectObject) else id(xobject)
        if xobject.get("/Subtype") != "/Form" or key in seen:
            return 0
        group = _resolve(xobject.get("/Group"))
        if self.x1a and group is not None and group.get("/S") == "/Transparency":
            self.add("transparency", "error", number, f"form {name}", "a transparency group",
                     "PDF/X-1a allows no transparency (flatten it)")
        matrix = tuple(float(v) for v in xobject.get("/Matrix", _IDENTITY))
        inner = _resolve(xobject.get("/Resources")) or resources
        operations = ContentStream(xobject, self.reader).operations
        return self._content(number, operations, inner, _concat(matrix, ctm),  # type: ignore[arg-type]
                             seen | {key})

    def _image(self, number: int, label: str, width: int, height: int, space: str,
               image: DictionaryObject | None, ctm: Matrix) -> None:
        placed_w = math.hypot(ctm[0], ctm[1]) / 72
        placed_h = math.hypot(ctm[2], ctm[3]) / 72
        if placed_w > 0 and placed_h > 0 and width > 1 and height > 1:
            ppi = min(width / placed_w, height / placed_h)
            if ppi < self.spec.min_ppi - 0.5:
                corners = [(ctm[4] + ctm[0] * u + ctm[2] * v, ctm[5] + ctm[1] * u + ctm[3] * v)
                           for u in (0, 1) for v in (0, 1)]
                left = (min(x for x, _ in corners) - self.top_left[0]) / 72
                down = (self.top_left[1] - max(y for _, y in corners)) / 72
                self.add("resolution", "error", number, label,
                         f"{ppi:.0f} ppi ({width}x{height} px placed at "
                         f"{placed_w:.2f}x{placed_h:.2f} in, {left:.2f} in from the left, "
                         f"{down:.2f} in from the top)",
                         f"images at {self.spec.min_ppi:.0f} ppi or more")
        if space in ("RGB", "Lab"):
            self.rgb_seen = True
            if self.x1a:
                self.add("colour", "error", number, label, f"an {space} image",
                         "CMYK or greyscale images only")
        if self.x1a and image is not None and "/SMask" in image:
            self.add("transparency", "error", number, label, "a soft mask (transparency)",
                     "PDF/X-1a allows no transparency (flatten it)")

    def _ext_gstate(self, number: int, name: str, resources: DictionaryObject) -> None:
        state = _resolve((_resolve(resources.get("/ExtGState")) or {}).get(name))
        if not self.x1a or state is None:
            return
        alpha = min(float(state.get("/CA", 1)), float(state.get("/ca", 1)))
        mask = state.get("/SMask", "/None")
        blend = state.get("/BM", "/Normal")
        if alpha < 1 or mask != "/None" or blend not in ("/Normal", "/Compatible"):
            self.add("transparency", "error", number, f"graphics state {name}",
                     f"transparency (opacity {alpha:g}, blend {blend})",
                     "PDF/X-1a allows no transparency (flatten it)")

    def _fonts(self, number: int, resources: DictionaryObject) -> None:
        for name, ref in (_resolve(resources.get("/Font")) or {}).items():
            font = _resolve(ref)
            base = str(font.get("/BaseFont", name)).lstrip("/")
            if base in self.fonts_seen or font.get("/Subtype") == "/Type3":
                continue
            self.fonts_seen.add(base)
            if not _embedded(font):
                self.add("font", "error", number, f"font {base}", "not embedded",
                         "every font embedded")
            elif not _SUBSET.match(base):
                self.add("font", "warning", number, f"font {base}", "embedded whole, not subset",
                         "fonts embedded as subsets")


def ink_findings(path: Path, limit: int, dpi: int, printer: str) -> list[Finding]:
    """Total area coverage per page, rendered to CMYK by Ghostscript; one finding a page over."""
    coverage = rendered_coverage(path, dpi)
    if coverage is None:
        return [Finding("ink", "warning", None, "document", "ink coverage not measured: "
                        "Ghostscript (gs) is not installed", f"{printer}: at most {limit} % total "
                        "ink (install the ghostscript package to check it)")]
    return [Finding("ink", "error", number, "page", f"total ink reaches {peak:.0f} % "
                    f"({x:.2f} in from the left, {y:.2f} in from the top)",
                    f"{printer}: at most {limit} % total ink (ink_limit in [comic])")
            for number, (peak, x, y) in enumerate(coverage, 1) if peak > limit + 0.5]


def rendered_coverage(path: Path, dpi: int = INK_DPI) -> list[tuple[float, float, float]] | None:
    """Per page: the highest C+M+Y+K in percent and where (inches from the top left).

    None when Ghostscript is not installed. DeviceCMYK content passes to the separations
    unchanged; RGB content goes through Ghostscript's default conversion.
    """
    gs = shutil.which("gs")
    if gs is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiff32nc",
                        f"-r{dpi}", "-dNOINTERPOLATE", f"-sOutputFile={tmp}/p%04d.tif",
                        str(path)], check=True, capture_output=True)
        return [_peak(page, dpi) for page in sorted(Path(tmp).glob("p*.tif"))]


def _peak(tiff: Path, dpi: int) -> tuple[float, float, float]:
    with Image.open(tiff) as image:
        total = np.asarray(image.convert("CMYK"), dtype=np.int32).sum(axis=-1)
    row, col = np.unravel_index(int(total.argmax()), total.shape)
    return float(total[row, col]) * 100 / 255, float(col) / dpi, float(row) / dpi


# -- pieces of PDF ---------------------------------------------------------------------

def _resolve(value: Any) -> Any:
    return value.get_object() if isinstance(value, IndirectObject) else value


def _box(box: Any) -> tuple[float, float, float, float]:
    return float(box.left), float(box.bottom), float(box.right), float(box.top)


def _concat(m: Matrix, n: Matrix) -> Matrix:
    """m x n: `m` applied first (a `cm` operand), then the current matrix `n`."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


def _family(space: Any, resources: DictionaryObject) -> str:
    """RGB, CMYK, Gray, Lab or Spot for a colour space name or array."""
    space = _resolve(space)
    if isinstance(space, str) and not space.startswith("/Device") and space not in (
            "/RGB", "/CMYK", "/G", "/Pattern"):
        named = (_resolve(resources.get("/ColorSpace")) or {}).get(space)
        if named is not None:
            return _family(named, resources)
    if isinstance(space, ArrayObject):
        kind = space[0]
        if kind == "/ICCBased":
            n = int(_resolve(space[1]).get("/N", 3))
            return {1: "Gray", 3: "RGB", 4: "CMYK"}.get(n, "RGB")
        if kind in ("/Indexed", "/I"):
            return _family(space[1], resources)
        return {"/CalRGB": "RGB", "/CalGray": "Gray", "/Lab": "Lab"}.get(kind, "Spot")
    return {"/DeviceRGB": "RGB", "/RGB": "RGB", "/DeviceCMYK": "CMYK", "/CMYK": "CMYK",
            "/Pattern": "Spot"}.get(str(space), "Gray")


def _embedded(font: DictionaryObject) -> bool:
    if font.get("/Subtype") == "/Type0":
        descendants = _resolve(font.get("/DescendantFonts")) or []
        return bool(descendants) and _embedded(_resolve(descendants[0]))
    descriptor = _resolve(font.get("/FontDescriptor"))
    return descriptor is not None and any(
        key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))


def _declared_version(reader: pypdf.PdfReader) -> str | None:
    info = reader.trailer.get("/Info")
    if info is not None and "/GTS_PDFXVersion" in info.get_object():
        return str(info.get_object()["/GTS_PDFXVersion"])
    metadata = _resolve(reader.trailer["/Root"].get("/Metadata"))
    if metadata is None:
        return None
    text = metadata.get_data().decode("utf-8", "replace")
    match = re.search(r"GTS_PDFXVersion(?:>|=\")([^<\"]+)", text)
    return match.group(1) if match else None


def _page_resources(page: pypdf.PageObject) -> Iterator[DictionaryObject]:
    """The page's resources and those of the forms it draws (fonts live in either)."""
    resources = _resolve(page.get("/Resources"))
    if resources is None:
        return
    yield resources
    for ref in (_resolve(resources.get("/XObject")) or {}).values():
        xobject = _resolve(ref)
        if xobject.get("/Subtype") == "/Form" and "/Resources" in xobject:
            yield _resolve(xobject["/Resources"])
