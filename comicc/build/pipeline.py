"""`comicc build`: load -> plan -> classify/style -> page plans -> PDF/CBZ -> report.

This module decides *what* each stage depends on (its named inputs) and hands the
decision to run or reuse it to the engine. It imports no torch: the ML stages live in
`comicc.build.style_stage` and are imported only when they actually have to run.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comicc import __version__
from comicc.build.cache import CACHE_DIR, Cache, sha256_file, write_atomic
from comicc.build.engine import Engine, digest
from comicc.build.images import upright_size
from comicc.build.plan import panel_label, target_matrix
from comicc.manifest.diagnostics import AuthorError, Diagnostic, DiagnosticSink
from comicc.manifest.load import Project, load_project
from comicc.manifest.models import Comic, PdfFlavour

if TYPE_CHECKING:
    from comicc.ml.distributed import BuildGroup, Launch
    from comicc.page.colour import PrintSettings

FONT_DIR = Path(__file__).resolve().parents[1] / "page" / "fonts"


@dataclass(frozen=True)
class BuildRequest:
    """What the author asked for on the command line (None = take the manifest's value)."""

    path: str | Path | None = None
    output: Path | None = None
    format: str | None = None
    backend: str | None = None
    stylenet: str | None = None
    preset: str | None = None
    device: str | None = None
    steps: int | None = None
    seed: int | None = None
    explain: bool = False
    report: bool = True
    quiet: bool = False
    distributed: bool = False
    pdf: PdfFlavour | None = None  # overrides [comic] pdf


@dataclass(frozen=True)
class StyleSettings:
    """Resolved style options: every value that changes the styled panels."""

    backend: str  # gram | clip | none
    stylenet: str
    preset: str
    device: str
    steps: int | None
    size: int | None
    consistency_weight: float | None
    detail: float
    seed: int
    clip_model: str
    clip_pretrained: str | None
    clip_checkpoint: str | None
    backend_reason: str = ""

    def key(self) -> dict[str, Any]:
        values = dict(self.__dict__)
        values.pop("backend_reason")
        # cpu and cuda give different floating-point results; the specific GPU does not matter.
        values["device"] = "cpu" if self.device == "cpu" else "accelerator"
        return values


@dataclass
class BuildResult:
    """What a finished build produced."""

    output: Path
    report: Path | None
    engine: Engine
    diagnostics: list[Diagnostic]
    seconds: float


# -- options -------------------------------------------------------------------------

def resolve_settings(project: Project, request: BuildRequest) -> StyleSettings:
    """Merge CLI flags over the manifest's [build] table and resolve `auto` choices."""
    build = project.comic.build
    backend = request.backend or build.backend
    device = request.device or build.device
    reason = ""
    if backend == "auto":
        backend, reason = _auto_backend(project)
    if backend == "clip" and not (build.clip_checkpoint or build.clip_pretrained):
        raise AuthorError(project.locate(Diagnostic(
            "error", "the clip backend needs CLIP weights",
            key_path=("build", "backend"), code="backend",
            hint='set [build] clip_checkpoint = "weights/clip.safetensors" (a local file) or '
                 'clip_pretrained = "<open_clip tag in your local cache>", or use backend = "gram"')))
    if backend == "clip":
        _require_directions(project)
    if backend == "gram" and build.stylenet == "unet" and (request.stylenet or "unet") == "unet" \
            and project.comic.comic.style_image is None:
        raise AuthorError(project.locate(Diagnostic(
            "error", "the gram backend with stylenet = \"unet\" needs a style image",
            key_path=("comic",), code="backend",
            hint='add style_image = "art/style.png" to [comic], or use stylenet = "pretrained"')))
    return StyleSettings(
        backend=backend,
        stylenet=request.stylenet or build.stylenet,
        preset=request.preset or build.preset,
        device=device,
        steps=request.steps if request.steps is not None else build.steps,
        size=build.size,
        consistency_weight=build.consistency_weight,
        detail=build.detail,
        seed=request.seed if request.seed is not None else build.seed,
        clip_model=build.clip_model,
        clip_pretrained=build.clip_pretrained,
        clip_checkpoint=build.clip_checkpoint,
        backend_reason=reason,
    )


def _require_directions(project: Project) -> None:
    """CLIP is steered by text: every panel needs a direction, its own or the comic's."""
    comic = project.comic
    if comic.comic.direction.strip():
        return
    missing = [project.locate(Diagnostic(
        "error", "the clip backend needs a text direction for this panel",
        key_path=("page", p, "panel", j), code="direction",
        hint='add direction = "..." here, or a global direction in [comic]'))
        for p, j, panel in comic.panels() if not panel.direction.strip()]
    if missing:
        raise AuthorError(missing)


def _auto_backend(project: Project) -> tuple[str, str]:
    build = project.comic.build
    if build.clip_checkpoint:
        return "clip", "auto: a CLIP checkpoint is configured"
    if build.clip_pretrained:
        from comicc.ml.clip import clip_available

        if clip_available(build.clip_model, build.clip_pretrained, None):
            return "clip", f"auto: CLIP weights {build.clip_model}/{build.clip_pretrained} found"
        return "gram", (f"auto: CLIP weights {build.clip_model}/{build.clip_pretrained} are not in "
                        "the local cache; using the gram backend")
    return "gram", "auto: no CLIP weights configured; using the gram backend (style image)"


def resolve_output(project: Project, request: BuildRequest) -> tuple[Path, str]:
    """The output file and its format; refuses to overwrite one of the project's inputs."""
    fmt = request.format
    if request.output is not None:
        output = Path(request.output)
        if fmt is None:
            fmt = "cbz" if output.suffix.lower() == ".cbz" else "pdf"
    else:
        fmt = fmt or "pdf"
        output = project.root / f"{project.root.name}.{fmt}"
    resolved = output.resolve()
    if resolved.is_relative_to((project.root / CACHE_DIR).resolve()):
        raise AuthorError(Diagnostic("error", "the output path is inside the build cache (.comicc/)",
                                     file=output, code="output", hint="choose another folder with -o"))
    inputs = {project.manifest_path.resolve()} | {p.resolve() for p in input_files(project)}
    if resolved in inputs:
        raise AuthorError(Diagnostic("error", "the output path is one of the comic's own input "
                                     "files; refusing to overwrite it", file=output, code="output",
                                     hint="choose another name with -o"))
    if resolved.is_dir():
        raise AuthorError(Diagnostic("error", "the output path is a directory", file=output,
                                     code="output", hint="give a file name, e.g. -o out/book.pdf"))
    if resolved.suffix.lower() not in (".pdf", ".cbz"):
        raise AuthorError(Diagnostic("error", f"cannot write `{output.name}`: the output must end "
                                     "in .pdf or .cbz", file=output, code="output",
                                     hint="e.g. -o book.pdf or -o book.cbz"))
    return output, fmt


def input_files(project: Project) -> list[Path]:
    comic = project.comic
    files = [project.path(p.art) for _, _, p in comic.panels()]
    files += [project.path(r) for e in comic.elements.values() for r in e.references]
    if comic.comic.style_image:
        files.append(project.path(comic.comic.style_image))
    return files


# -- stage inputs ----------------------------------------------------------------------

class FileHashes:
    """Content hashes of the project's files, each file hashed once per build."""

    def __init__(self, project: Project):
        self.project = project
        self._seen: dict[str, str] = {}

    def __call__(self, relative: str) -> str:
        if relative not in self._seen:
            self._seen[relative] = sha256_file(self.project.path(relative))
        return self._seen[relative]


def classify_inputs(comic: Comic, files: FileHashes, settings: StyleSettings) -> dict[str, str]:
    """The classifiers depend on references, panel art, presence and regions — not on text."""
    inputs = {"options": digest({k: v for k, v in settings.key().items()
                                 if k in ("preset", "size", "seed", "device")})}
    for name, element in comic.elements.items():
        inputs[f"element {name} references"] = digest([files(r) for r in element.references])
    for p, j, panel in comic.panels():
        label = panel_label(p, j)
        inputs[f"panel {label} art"] = files(panel.art)
        inputs[f"panel {label} elements"] = digest(sorted(panel.elements))
        inputs[f"panel {label} regions"] = digest(panel.regions)
    return inputs


def panel_print_sizes(project: Project) -> list[tuple[int, int]]:
    """Per panel, the pixel size its art is styled and printed at (its frame at the comic's
    dpi, capped by the art's own size)."""
    from comicc.page.plan import print_sizes

    art_sizes = [upright_size(project.path(panel.art)) for _, _, panel in project.comic.panels()]
    return print_sizes(project.comic, project.root, art_sizes)


def style_inputs(comic: Comic, files: FileHashes, settings: StyleSettings,
                 classify_key: str,
                 print_sizes: list[tuple[int, int]] | None = None) -> dict[str, str]:
    """The style stage: art, directions, styles, the classifiers, the options and each
    panel's print size — not balloons."""
    meta = comic.comic
    inputs = {
        "options": digest(settings.key()),
        "classifiers": classify_key,
        "global direction": digest(meta.direction),
        "comic style": digest(meta.style),
        "style image": files(meta.style_image) if meta.style_image else "none",
        "panel count": str(len(comic.panels())),
    }
    for index, (p, j, panel) in enumerate(comic.panels()):
        label = panel_label(p, j)
        inputs[f"panel {label} art"] = files(panel.art)
        inputs[f"panel {label} direction"] = digest(panel.direction)
        inputs[f"panel {label} style"] = digest(panel.style)
        inputs[f"panel {label} elements"] = digest(sorted(panel.elements))
        inputs[f"panel {label} regions"] = digest(panel.regions)
        if print_sizes is not None:
            inputs[f"panel {label} print"] = digest(list(print_sizes[index]))
    return inputs


def _template_hash(project: Project, layout: str) -> str:
    from comicc.page.layout import available_layouts

    info = available_layouts(project.root).get(layout)
    return sha256_file(Path(info.path)) if info is not None else "missing"


def _fonts_hash() -> str:
    return digest({p.name: p.stat().st_size for p in sorted(FONT_DIR.glob("*.ttf"))})


def page_inputs(project: Project, page_index: int, art_sizes: list[tuple[int, int]],
                fonts: str) -> dict[str, str]:
    """A page's plan depends on its own slice of the manifest, its art sizes and the format."""
    comic = project.comic
    page = comic.page[page_index]
    meta = comic.comic
    n = page_index + 1
    return {
        "book format": digest({"trim": meta.trim_points(), "bleed": meta.bleed_points(),
                               "safe": meta.safe_margin_points(), "dpi": meta.dpi,
                               "reading": meta.reading, "language": meta.language,
                               "writing": meta.writing,
                               "layout defaults": comic.layout.model_dump()}),
        f"page {n} layout": digest({"layout": page.layout, "gutter": page.gutter,
                                    "margin": page.margin, "writing": page.writing,
                                    "template": _template_hash(project, page.layout)}),
        f"balloon text on page {n}": digest([[b.model_dump() for b in panel.balloons]
                                            for panel in page.panel]),
        f"panel framing on page {n}": digest([{"regions": panel.regions, "focus": panel.focus,
                                              "elements": panel.elements} for panel in page.panel]),
        f"art sizes on page {n}": digest(art_sizes),
        "fonts": fonts,
        "lettering": digest({"settings": comic.lettering.model_dump(),
                             "font files": {kind: sha256_file(project.path(path))
                                            for kind, path in comic.lettering.fonts.items()}}),
    }


# -- the build -------------------------------------------------------------------------

@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so temporary files are removed and the cache stays whole."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. a test runner's worker)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def provenance_text(comic: Comic, settings: StyleSettings, model: str) -> str:
    authors = ", ".join(comic.comic.authors) or "the author"
    if settings.backend == "none":
        return (f"Art and story by {authors}. Pages laid out and lettered by comicc {__version__} "
                "from the author's own art; no machine-learning restyling was applied.")
    return (f"Art and story by {authors}. Panels restyled by comicc {__version__} from the "
            f"author's own concept art (backend: {settings.backend}; network: {model}).")


def build(project: Project, request: BuildRequest, log: Any = None,
          cache_root: Path | None = None, record: bool = True,
          group: BuildGroup | None = None) -> BuildResult:
    """Build a loaded project; returns what was produced. Raises AuthorError on bad input.

    `cache_root` shares another project's cache (e.g. building an old git revision in a
    temporary checkout reuses the working copy's results; the cache is content-addressed).
    `record=False` leaves the build out of the eviction log, so side builds (a diff's old
    revision) never push the author's own results out of the cache.
    `group`: rank 0's `comicc.ml.distributed.BuildGroup` in a torchrun build; the style
    stage then trains together with the other ranks.
    """
    started = time.perf_counter()
    say = log or (lambda message: None)
    settings = resolve_settings(project, request)
    output, fmt = resolve_output(project, request)
    sink = DiagnosticSink()
    sink.extend(project.warnings)
    if settings.backend_reason:
        say(f"backend: {settings.backend} ({settings.backend_reason})")
    cache = Cache(cache_root or project.root)
    with cache.lock(timeout=float(os.environ.get("COMICC_LOCK_WAIT", "0"))):
        engine = Engine(cache)
        files = FileHashes(project)
        comic = project.comic
        panels = comic.panels()
        summary: dict[str, Any] = {"matrix": json.loads(target_matrix(comic).to_json())}

        # classify + style (ML), or the raw art as it is
        styled_blobs: list[str] | None = None
        model_name = "none"
        if settings.backend != "none":
            classify = engine.run("classify", "classify", classify_inputs(comic, files, settings),
                                  lambda: _style_stage().run_classify(project, settings, say))
            inputs = style_inputs(comic, files, settings, classify.key,
                                  panel_print_sizes(project))
            style = engine.run("style", "style", inputs,
                               lambda: _style_stage().run_style(project, settings, cache, classify,
                                                                inputs, say, group=group))
            styled_blobs = [style.outputs[f"panel-{panel_label(p, j)}.png"] for p, j, _ in panels]
            sizes = [tuple(s) for s in style.meta["sizes"]]
            model_name = style.meta.get("model", settings.stylenet)
            summary["style"] = json.loads(cache.get_blob(style.outputs["summary.json"]))
            summary["classifiers"] = classify.meta
            for name in classify.meta.get("weak", []):
                accuracy = classify.meta.get("accuracy", {}).get(name)
                measured = f"held-out accuracy {accuracy:.0%}" if accuracy is not None else \
                    "no held-out measurement possible"
                sink.add(project.locate(Diagnostic(
                    "warning", f"the classifier for `{name}` cannot reliably tell it apart "
                    f"({measured}); the consistency term may not protect it",
                    key_path=("elements", name), code="weak-classifier",
                    hint="add references that show it clearly, or mark it in more panels")))
            for d in style.meta.get("notes", []):
                say(d)
        else:
            sizes = [upright_size(project.path(panel.art)) for _, _, panel in panels]

        # one plan per page
        fonts = _fonts_hash()
        plans = []
        start = 0
        for p, page in enumerate(comic.page):
            page_sizes = sizes[start:start + len(page.panel)]
            start += len(page.panel)
            entry = engine.run("page", f"page {p + 1}",
                               page_inputs(project, p, page_sizes, fonts),
                               lambda p=p, s=page_sizes: _plan_page(project, p, s))
            for raw in entry.meta.get("diagnostics", []):
                sink.add(project.locate(Diagnostic(**_diagnostic_args(raw))))
            plans.append(entry)

        # the book
        provenance = provenance_text(comic, settings, model_name)
        printing = _print_settings(project, request, fmt)
        art_ids = styled_blobs or [files(panel.art) for _, _, panel in panels]
        book_inputs = {
            "page plans": digest([e.outputs["plan.json"] for e in plans]),
            "panel images": digest(art_ids),
            "metadata": digest({"title": comic.comic.title, "authors": comic.comic.authors,
                                "pad": comic.comic.pad_to_even, "provenance": provenance,
                                "epoch": os.environ.get("SOURCE_DATE_EPOCH")}),
            "fonts": fonts,
        }
        if printing.pdf != "plain":  # a plain book keeps the key (and cache entry) it had
            book_inputs["print"] = digest(printing.key())
        book = engine.run(fmt, fmt, book_inputs,
                          lambda: _write_book(project, fmt, plans, styled_blobs, cache, provenance,
                                              printing))
        data_path = cache.blob_file(book.outputs[f"book.{fmt}"])
        if not output.exists() or sha256_file(output) != book.outputs[f"book.{fmt}"]:
            try:
                write_atomic(output, data_path.read_bytes())
            except OSError as exc:
                raise AuthorError(Diagnostic("error", f"cannot write the output: {exc.strerror}",
                                             file=output, code="output")) from None
        if printing.pdf != "plain" and fmt == "pdf":
            sink.extend(_preflight(project, engine, book.outputs["book.pdf"], data_path, output,
                                   printing))

        report_path = None
        if request.report:
            report_path = _write_report(project, output, engine, summary, sink, styled_blobs,
                                        cache, settings)
        if record:
            cache.record_build()
    return BuildResult(output, report_path, engine, sink.items, time.perf_counter() - started)


def _diagnostic_args(raw: dict[str, Any]) -> dict[str, Any]:
    args = dict(raw)
    args["key_path"] = tuple(args.get("key_path") or ())
    if args.get("file"):
        args["file"] = Path(args["file"])
    return args


def _style_stage() -> Any:
    from comicc.build import style_stage

    return style_stage


def _plan_page(project: Project, page_index: int, sizes: list[tuple[int, int]]):
    from comicc.page.plan import plan_page

    sink = DiagnosticSink()
    plan = plan_page(project.comic, page_index, project.root, sizes, sink)
    diagnostics = [{"severity": d.severity, "message": d.message, "key_path": list(d.key_path),
                    "hint": d.hint, "code": d.code, "file": str(d.file) if d.file else None}
                   for d in sink.items]
    return {"plan.json": json.dumps(plan.to_json(), sort_keys=True).encode()}, {
        "diagnostics": diagnostics}


def _panel_images(project: Project, styled_blobs: list[str] | None, cache: Cache) -> list:
    from PIL import Image

    from comicc.build.images import load_image

    comic = project.comic
    images = []
    for index, (_, _, panel) in enumerate(comic.panels()):
        if styled_blobs is not None:
            images.append(Image.open(io.BytesIO(cache.get_blob(styled_blobs[index]))).convert("RGB"))
        else:
            images.append(load_image(project.path(panel.art)))
    grouped, start = [], 0
    for page in comic.page:
        grouped.append(images[start:start + len(page.panel)])
        start += len(page.panel)
    return grouped


def _print_settings(project: Project, request: BuildRequest, fmt: str) -> PrintSettings:
    from comicc.page.colour import PLAIN, resolve_print

    if fmt != "pdf":
        return PLAIN
    return resolve_print(project.comic, project.root, request.pdf, locate=project.locate)


def _preflight(project: Project, engine: Engine, blob: str, data: Path, output: Path,
               printing: PrintSettings) -> list[Diagnostic]:
    """The printer's checks on the written PDF, as warnings (the file is written regardless)."""
    from comicc.page.preflight import findings_from_json, preflight
    from comicc.page.printers import PRINTERS

    spec = PRINTERS[printing.printer]
    entry = engine.run("preflight", "preflight", {"book": blob, "printer": digest(spec.__dict__),
                                                   "ink limit": str(printing.ink_limit)},
                       lambda: ({}, {"findings": [f.to_json() for f in preflight(
                           data, spec, ink_limit=printing.ink_limit)]}))
    # The page planner has already warned, at the panel's line, of art below the comic's dpi.
    planned = project.comic.comic.dpi >= spec.min_ppi
    return [f.diagnostic(output, severity="warning")
            for f in findings_from_json(entry.meta["findings"])
            if not (planned and f.code == "resolution")]


def _write_book(project: Project, fmt: str, plans: list, styled_blobs: list[str] | None,
                cache: Cache, provenance: str, printing: PrintSettings | None = None):
    import tempfile

    from comicc.page.cbz import write_cbz
    from comicc.page.colour import PLAIN
    from comicc.page.pageplan import PagePlan
    from comicc.page.pdf import write_pdf

    page_plans = [PagePlan.from_json(json.loads(cache.get_blob(e.outputs["plan.json"])))
                  for e in plans]
    images = _panel_images(project, styled_blobs, cache)
    with tempfile.TemporaryDirectory(dir=cache.root) as tmp:
        out = Path(tmp) / f"book.{fmt}"
        if fmt == "cbz":
            write_cbz(project.comic, page_plans, images, out, provenance)
        else:
            write_pdf(project.comic, page_plans, images, out, provenance, printing or PLAIN)
        data = out.read_bytes()
    return {f"book.{fmt}": data}, {}


def _write_report(project: Project, output: Path, engine: Engine, summary: dict[str, Any],
                  sink: DiagnosticSink, styled_blobs: list[str] | None, cache: Cache,
                  settings: StyleSettings) -> Path | None:
    try:
        from comicc.report.html import write_report
    except ImportError:
        return None
    return write_report(project, output, engine, summary, sink, styled_blobs, cache, settings)


# -- command-line entry ----------------------------------------------------------------

def run_build(request: BuildRequest) -> int:
    """`comicc build`: build, print diagnostics and --explain, return the exit code."""
    def say(message: str) -> None:
        if not request.quiet:
            print(message, file=sys.stderr)

    from comicc.ml.distributed import own_threads, release_threads

    own_threads()  # the command line picks torch's CPU threads (torch is not imported here)
    try:
        with _terminate_as_interrupt():
            project = load_project(request.path)
            launch = _launch(request)
            if launch is not None:
                return _run_distributed(project, request, launch, say)
            result = build(project, request, log=say)
    finally:
        release_threads()
    return _finish(request, result)


def _launch(request: BuildRequest) -> Launch | None:
    """The torchrun launch of several processes this build runs in (None: a plain build)."""
    if "WORLD_SIZE" not in os.environ:
        if request.distributed:
            raise AuthorError(Diagnostic(
                "error", "--distributed needs processes started by torchrun", code="distributed",
                hint="torchrun --nproc-per-node 2 -m comicc build [PATH] (or leave out "
                     "--distributed)"))
        return None  # asked without importing anything: a plain build stays torch-free
    from comicc.ml.distributed import launch_from_environ

    return launch_from_environ()


def _run_distributed(project: Project, request: BuildRequest, launch: Launch, say: Any) -> int:
    """One rank of a torchrun build: rank 0 builds and writes, the others help it train."""
    stage = _style_stage()
    settings = resolve_settings(project, request)
    group = stage.join_group(settings, launch)
    failed = True
    try:
        if not launch.is_main:
            stage.serve_style(project, settings, group)
            failed = False
            return 0
        result = build(project, request, log=say, group=group)
        failed = False
    finally:
        group.close(failed=failed)
    return _finish(request, result)


def _finish(request: BuildRequest, result: BuildResult) -> int:
    """Print the diagnostics, the --explain lines and what was written."""
    for diagnostic in result.diagnostics:
        print(diagnostic.render(), file=sys.stderr)
    if request.explain:
        for report in result.engine.reports:
            print(report.line())
    print(f"wrote {result.output} in {result.seconds:.1f}s ({result.engine.summary()})")
    if result.report is not None:
        print(f"report: {result.report}")
    return 0
