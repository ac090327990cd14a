"""Every stage of a build, declared in one place: its name, version, inputs and function.

A stage's inputs are `InputKey -> hash` (`comicc.engine.engine`): the key says what the
input is (and which panel it belongs to, as data), its label is only for people
(`--explain`, the report). The engine hashes the inputs with the stage's version to decide
whether to run the function or reuse its cached outputs.

  classify   element classifiers      references, panel art, presence, regions, options
  style      restyled panels          art, directions, styles, classifiers, options
  page       one page's plan          its layout, balloons, framing, art sizes, fonts
  pdf / cbz  the book                 page plans, panel images, metadata, fonts
             (each panel's encoded art is cached apart by its own key, `art_pieces`)
  judge      the report's judge       panel art, references, presence, regions, device
  report     the report's pictures    raw and styled panels, presence, regions, device, judge
  preflight  a PDF/X book's findings  the book, the printer's specification, the ink limit

The ML stages' functions live in `comicc.engine.style_stage`, imported only when they
run, so a build that reuses them never imports torch.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from comicc.engine.cache import Cache, Entry
from comicc.engine.engine import Engine, InputKey, Inputs, Stage, StageOutput
from comicc.engine.request import OutputFormat
from comicc.engine.settings import BuildSettings
from comicc.engine.stamp import FileIndex
from comicc.files import digest, sha256_file
from comicc.interrupts import temporary
from comicc.manifest.diagnostics import Diagnostic, DiagnosticSink
from comicc.manifest.load import Project
from comicc.manifest.matrix import panel_label
from comicc.manifest.models import Comic
from comicc.manifest.strength import panel_strength

if TYPE_CHECKING:
    from PIL import Image

    from comicc.page.colour import PrintSettings
    from comicc.page.pageplan import PagePlan
    from comicc.page.pdf import ArtPiece

FONT_DIR = Path(__file__).resolve().parents[1] / "page" / "fonts"

Log = Callable[[str], None]  # where a stage says what it is doing (stderr unless quiet)

# Bump a stage's version when its code changes what it produces.
CLASSIFY = Stage("classify", 10)
STYLE = Stage("style", 5)
PAGE = Stage("page", 3)
PDF = Stage("pdf", 3)
CBZ = Stage("cbz", 1)
REPORT = Stage("report", 1)
JUDGE = Stage("judge", 1)
PREFLIGHT = Stage("preflight", 1)
# Not run by the engine: the pdf and cbz stages look up each panel's encoded art themselves.
PIECE = Stage("piece", 2)
BOOK_STAGES: dict[OutputFormat, Stage] = {"pdf": PDF, "cbz": CBZ}


# The style stage's inputs that the whole comic shares (see `style_inputs`).
OPTIONS = InputKey("options")
CLASSIFIERS = InputKey("classifiers")
GLOBAL_DIRECTION = InputKey("global direction")
COMIC_STYLE = InputKey("comic style")
STYLE_IMAGE = InputKey("style image")
PANEL_COUNT = InputKey("panel count")
# A previous style result can warm-start this build only where these agree.
WARM_START_KEYS = (OPTIONS, PANEL_COUNT, STYLE_IMAGE, COMIC_STYLE)


class FileHashes:
    """Content hashes of the project's files, by their path in the manifest.

    index: the stat-keyed hashes of earlier builds (None: hashes for this process only).
    missing: what an absent file hashes to (None: reading it raises, as a build should;
    `comicc diff` compares versions in which files come and go).
    """

    def __init__(self, project: Project, index: FileIndex | None = None,
                 missing: str | None = None):
        self.project = project
        self.index = index or FileIndex(None)
        self.missing = missing

    def __call__(self, relative: str) -> str:
        path = self.project.path(relative)
        if self.missing is not None and not path.is_file():
            return self.missing
        return self.index.sha256(path)


# -- inputs ----------------------------------------------------------------------------

def classify_inputs(comic: Comic, files: FileHashes, settings: BuildSettings) -> Inputs:
    """The classifiers depend on references, panel art, presence and regions — not on text."""
    inputs = {OPTIONS: digest(settings.classify_key())}
    for name, element in comic.elements.items():
        inputs[InputKey(f"element {name} references")] = digest(
            [files(r) for r in element.references])
    for p, j, panel in comic.panels():
        label = panel_label(p, j)
        inputs[InputKey.of_panel(label, "art")] = files(panel.art)
        inputs[InputKey.of_panel(label, "elements")] = digest(sorted(panel.elements))
        inputs[InputKey.of_panel(label, "regions")] = digest(panel.regions)
    return inputs


def panel_print_sizes(project: Project) -> list[tuple[int, int]]:
    """Per panel, the pixel size its art is styled and printed at (its frame at the comic's
    dpi, capped by the art's own size)."""
    from comicc.manifest.images import upright_size
    from comicc.page.plan import print_sizes

    art_sizes = [upright_size(project.path(panel.art)) for _, _, panel in project.comic.panels()]
    return print_sizes(project.comic, project.root, art_sizes)


def style_inputs(comic: Comic, files: FileHashes, settings: BuildSettings,
                 classify_key: str,
                 print_sizes: list[tuple[int, int]] | None = None) -> Inputs:
    """The style stage: art, directions, styles, strengths, the classifiers, the options and
    each panel's print size — not balloons. A strength is a panel's input, resolved (so a
    [comic] or [[page]] strength edit names the panels it reaches, and an element's only
    those with its region)."""
    meta = comic.comic
    inputs = {
        OPTIONS: digest(settings.key()),
        CLASSIFIERS: classify_key,
        GLOBAL_DIRECTION: digest(meta.direction),
        COMIC_STYLE: digest(meta.style),
        STYLE_IMAGE: files(meta.style_image) if meta.style_image else "none",
        PANEL_COUNT: str(len(comic.panels())),
    }
    for index, (p, j, panel) in enumerate(comic.panels()):
        label = panel_label(p, j)
        inputs[InputKey.of_panel(label, "art")] = files(panel.art)
        inputs[InputKey.of_panel(label, "direction")] = digest(panel.direction)
        inputs[InputKey.of_panel(label, "style")] = digest(panel.style)
        inputs[InputKey.of_panel(label, "elements")] = digest(sorted(panel.elements))
        inputs[InputKey.of_panel(label, "regions")] = digest(panel.regions)
        strength = panel_strength(comic, p, j).to_json()
        # Its own key, so --explain says "colours changed" for an element_colours edit.
        inputs[InputKey.of_panel(label, "kept colours")] = digest(strength.pop("colours_kept"))
        inputs[InputKey.of_panel(label, "strength")] = digest(strength)
        if print_sizes is not None:
            inputs[InputKey.of_panel(label, "print")] = digest(list(print_sizes[index]))
    return inputs


def template_hash(project: Project, layout: str) -> str:
    """The hash of the template file the layout name finds ("missing" for none)."""
    from comicc.manifest.layouts import available_layouts

    info = available_layouts(project.root).get(layout)
    return sha256_file(Path(info.path)) if info is not None else "missing"


def fonts_hash() -> str:
    """The shipped fonts, by name and size (they change only with comicc itself)."""
    return digest({p.name: p.stat().st_size for p in sorted(FONT_DIR.glob("*.ttf"))})


def page_inputs(project: Project, page_index: int, art_sizes: list[tuple[int, int]],
                fonts: str) -> Inputs:
    """A page's plan depends on its own slice of the manifest, its art sizes and the format."""
    comic = project.comic
    page = comic.page[page_index]
    meta = comic.comic
    n = page_index + 1
    return {
        InputKey("book format"): digest({
            "trim": meta.trim_points(), "bleed": meta.bleed_points(),
            "safe": meta.safe_margin_points(), "dpi": meta.dpi, "reading": meta.reading,
            "language": meta.language, "writing": meta.writing,
            "layout defaults": comic.layout.model_dump()}),
        InputKey(f"page {n} layout"): digest({
            "layout": page.layout, "gutter": page.gutter, "margin": page.margin,
            "writing": page.writing, "language": page.language,
            "template": template_hash(project, page.layout)}),
        InputKey(f"balloon text on page {n}"): digest(
            [[b.model_dump() for b in panel.balloons] for panel in page.panel]),
        InputKey(f"panel framing on page {n}"): digest(
            [{"regions": panel.regions, "focus": panel.focus, "elements": panel.elements}
             for panel in page.panel]),
        InputKey(f"art sizes on page {n}"): digest(art_sizes),
        InputKey("fonts"): fonts,
        InputKey("lettering"): digest({
            "settings": comic.lettering.model_dump(),
            "font files": {".".join(map(str, keys)): sha256_file(project.path(path))
                           for keys, path in comic.lettering.font_files()}}),
    }


def book_inputs(comic: Comic, plans: list[Entry], art_ids: list[str], provenance: str,
                fonts: str, printing: PrintSettings) -> Inputs:
    """The book: its pages' plans, the panel images placed on them, its metadata and, for
    a PDF/X book, how it is made for press."""
    inputs = {
        InputKey("page plans"): digest([e.outputs["plan.json"] for e in plans]),
        InputKey("panel images"): digest(art_ids),
        InputKey("metadata"): digest({
            "title": comic.comic.title, "authors": comic.comic.authors,
            "pad": comic.comic.pad_to_even, "provenance": provenance,
            "epoch": os.environ.get("SOURCE_DATE_EPOCH")}),
        InputKey("fonts"): fonts,
    }
    if printing.pdf != "plain":  # a plain book keeps the key (and cache entry) it had
        inputs[InputKey("print")] = digest(printing.key())
    return inputs


def preflight_inputs(book: str, printing: PrintSettings) -> Inputs:
    """The printer's checks of a PDF/X book: the book's bytes, the printer, the ink limit."""
    from comicc.page.printers import PRINTERS

    return {InputKey("book"): book,
            InputKey("printer"): digest(PRINTERS[printing.printer].__dict__),
            InputKey("ink limit"): str(printing.ink_limit)}


def with_found_regions(project: Project, regions: Sequence[Mapping[str, Sequence[float]]],
                       found: Mapping[str, Mapping[str, Sequence[float]]]
                       ) -> list[dict[str, Sequence[float]]]:
    """Each panel's manifest regions over the boxes the classify stage found (by panel
    label): the manifest wins where both place an element."""
    labels = [panel_label(p, j) for p, j, _ in project.comic.panels()]
    return [{**found.get(label, {}), **given}
            for label, given in zip(labels, regions, strict=True)]


def scenes(project: Project) -> set[str]:
    """The elements that are a whole scene (settings), not a figure in one: the classifiers
    learn their references whole, and the report's judge looks at them in the whole panel."""
    return {name for name, element in project.comic.elements.items() if element.kind == "setting"}


def judge_regions(project: Project, found: Mapping[str, Mapping[str, Sequence[float]]]
                  ) -> list[dict[str, Sequence[float]]]:
    """Where the report's judge crops each element, per panel: the manifest's region, else
    for a character or a prop the box the classify stage `found` (by panel label), as the
    loss holds it, not lost in the whole panel. A setting is the scene itself: without a
    manifest region it is judged on the whole panel, not in a box a head's activation
    happened to peak in."""
    elements, settings = project.comic.elements, scenes(project)
    placed = {label: {name: box for name, box in boxes.items()
                      if name in elements and name not in settings}
              for label, boxes in found.items()}
    return with_found_regions(project, [p.regions for _, _, p in project.comic.panels()], placed)


def judge_inputs(project: Project, files: FileHashes, device_class: str,
                 regions: Sequence[Mapping[str, Sequence[float]]]) -> Inputs:
    """What the report's judge learns from: panel art, references, presence, the regions it
    crops at (`judge_regions`), device."""
    from comicc.report.judging import JUDGE_VERSION

    comic = project.comic
    return {
        InputKey("judge code"): str(JUDGE_VERSION),
        InputKey("panel art"): digest([files(p.art) for _, _, p in comic.panels()]),
        InputKey("element references"): digest({name: [files(r) for r in e.references]
                                                for name, e in comic.elements.items()}),
        InputKey("elements and regions"): digest([[sorted(p.elements), dict(r)] for (_, _, p), r
                                                  in zip(comic.panels(), regions, strict=True)]),
        InputKey("device"): device_class,
    }


def pictures_inputs(project: Project, files: FileHashes, styled_blobs: list[str] | None,
                    device_class: str, judge: str | None = None) -> Inputs:
    """The report's pictures: the panels before and after, presence, regions, the device and
    (after an ML build) the judge's key."""
    from comicc.report.pictures import PICTURES_VERSION

    comic = project.comic
    return {
        InputKey("judge"): judge or "none",
        InputKey("pictures code"): str(PICTURES_VERSION),
        InputKey("panel art"): digest([files(p.art) for _, _, p in comic.panels()]),
        InputKey("styled panels"): digest(styled_blobs) if styled_blobs is not None else "none",
        InputKey("elements and regions"): digest([[sorted(p.elements), p.regions]
                                                  for _, _, p in comic.panels()]),
        InputKey("element ids"): digest(comic.element_ids()),
        # Feature values differ slightly between CPU and GPU arithmetic.
        InputKey("device"): device_class,
    }


# -- functions -------------------------------------------------------------------------

def plan_page_stage(project: Project, page_index: int, sizes: list[tuple[int, int]]) -> StageOutput:
    """Lay out and letter one page; its diagnostics travel in the entry's metadata."""
    from comicc.page.plan import plan_page

    sink = DiagnosticSink()
    plan = plan_page(project.comic, page_index, project.root, sizes, sink)
    diagnostics = [{"severity": d.severity, "message": d.message, "key_path": list(d.key_path),
                    "hint": d.hint, "code": d.code, "file": str(d.file) if d.file else None}
                   for d in sink.items]
    return {"plan.json": json.dumps(plan.to_json(), sort_keys=True).encode()}, {
        "diagnostics": diagnostics}


def page_diagnostics(entry: Entry) -> list[Diagnostic]:
    """The lettering and layout diagnostics a page stage recorded (reused or not)."""
    found = []
    for raw in entry.meta.get("diagnostics", []):
        args = dict(raw)
        args["key_path"] = tuple(args.get("key_path") or ())
        if args.get("file"):
            args["file"] = Path(args["file"])
        found.append(Diagnostic(**args))
    return found


class PanelImages(Sequence["Image.Image"]):
    """Every panel's image in reading order, the styled one from the cache or the raw art,
    decoded when asked for (the latest is kept): a long comic's panels are never all in
    memory at once."""

    def __init__(self, project: Project, styled_blobs: list[str] | None, cache: Cache) -> None:
        self.project, self.styled_blobs, self.cache = project, styled_blobs, cache
        self.art = [panel.art for _, _, panel in project.comic.panels()]
        self._latest: tuple[int, Image.Image] | None = None

    def __len__(self) -> int:
        return len(self.art)

    def __getitem__(self, index: int) -> Image.Image:  # type: ignore[override]
        from PIL import Image

        from comicc.manifest.images import load_image

        index = range(len(self))[index]  # an IndexError past the end ends iteration
        if self._latest is None or self._latest[0] != index:
            if self.styled_blobs is not None:
                blob = self.cache.get_blob(self.styled_blobs[index])
                image = Image.open(io.BytesIO(blob)).convert("RGB")
            else:
                image = load_image(self.project.path(self.art[index]))
            self._latest = (index, image)
        return self._latest[1]


def panel_images(project: Project, styled_blobs: list[str] | None, cache: Cache) -> PanelImages:
    """Every panel's image in reading order: the styled one from the cache, or the raw art."""
    return PanelImages(project, styled_blobs, cache)


def art_pieces(plans: list[PagePlan], art_ids: list[str], images: Sequence[Image.Image],
               cache: Cache, printing: PrintSettings) -> list[list[ArtPiece]]:
    """Per page, each panel's art encoded as its frame prints it: from the cache, or
    encoded and stored there, so rewriting the book after a balloon edit encodes no art.
    `art_ids` (the images' content hashes) and the framing are the key; `images` are read
    only for pieces that are not cached."""
    from comicc.page.pdf import ArtPiece, art_piece

    engine = Engine(cache)
    pages, index = [], 0
    for plan in plans:
        pieces = []
        for frame in plan.frames:
            inputs = {"art": art_ids[index], "crop": digest(frame.crop.box()),
                      "art size": digest(frame.art_size), "print": digest(printing.key())}
            key = engine.key(PIECE, inputs)
            found = cache.get_with_outputs(PIECE.name, key)
            if found is not None:
                piece = ArtPiece.from_bytes(found[1]["piece"])
            else:
                piece = art_piece(images[index], frame, printing)
                blob = cache.put_blob(piece.to_bytes())
                cache.put(Entry(stage=PIECE.name, key=key, inputs=inputs,
                                outputs={"piece": blob}, meta={}))
            pieces.append(piece)
            index += 1
        pages.append(pieces)
    return pages


def write_book_stage(project: Project, fmt: OutputFormat, plans: list[Entry],
                     styled_blobs: list[str] | None, art_ids: list[str], cache: Cache,
                     provenance: str, printing: PrintSettings) -> StageOutput:
    """Write the PDF or CBZ from the page plans and the panel images (`art_ids`: their
    content hashes, in reading order)."""
    from comicc.page.book import write_book
    from comicc.page.pageplan import PagePlan

    page_plans = [PagePlan.from_json(json.loads(cache.get_blob(e.outputs["plan.json"])))
                  for e in plans]
    pieces = art_pieces(page_plans, art_ids, panel_images(project, styled_blobs, cache), cache,
                        printing)
    if fmt == "pdf":  # straight to bytes: a book's PDF is hundreds of MB to write and read back
        from comicc.page.pdf import render_pdf

        return {"book.pdf": render_pdf(project.comic, page_plans, pieces, provenance,
                                       printing)}, {}
    with tempfile.TemporaryDirectory(dir=cache.root) as tmp, temporary(Path(tmp)):
        out = Path(tmp) / f"book.{fmt}"
        write_book(project.comic, page_plans, pieces, out, provenance, printing)
        data = out.read_bytes()
    return {f"book.{fmt}": data}, {}


def preflight_stage(book: Path, printing: PrintSettings) -> StageOutput:
    """The printer's checks of the written PDF, as JSON-able findings in the metadata."""
    from comicc.page.preflight import preflight
    from comicc.page.printers import PRINTERS

    findings = preflight(book, PRINTERS[printing.printer], ink_limit=printing.ink_limit)
    return {}, {"findings": [f.to_json() for f in findings]}


def judge_stage(project: Project, cache: Cache, device: str,
                regions: Sequence[Mapping[str, Sequence[float]]]) -> StageOutput:
    """The independent judge's presence heads and embeddings of the concept art (torch), at
    `regions` (`judge_regions`)."""
    from comicc.manifest.images import load_image
    from comicc.report.judging import learn_judge_reference

    references = {name: [load_image(project.path(r)) for r in element.references]
                  for name, element in project.comic.elements.items()}
    data = learn_judge_reference(project.comic, panel_images(project, None, cache), references,
                                 _resolve(device), regions)
    return {"judge.safetensors": data}, {}


def pictures_stage(project: Project, styled_blobs: list[str] | None, cache: Cache,
                   device: str, judge: str | None = None) -> StageOutput:
    """Thumbnails, crops and (given the judge stage's blob `judge`) the independent judge's
    measures of the styled panels; torch only when styled."""
    from comicc.report.pictures import draw_pictures

    raw = panel_images(project, None, cache)
    styled = panel_images(project, styled_blobs, cache) if styled_blobs is not None else None
    data = draw_pictures(project.comic, raw, styled,
                         cache.get_blob(judge) if judge is not None else None,
                         _resolve(device) if styled_blobs is not None else "cpu")
    return {"pictures.json": json.dumps(data).encode()}, {}


def _resolve(device: str) -> str:
    from comicc.ml.device import resolve_device

    try:
        return str(resolve_device(device))
    except ValueError:
        return "cpu"
