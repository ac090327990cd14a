"""`comicc build`: load -> plan -> classify/style -> page plans -> PDF/CBZ -> report.

This module runs the stages declared in `comicc.engine.stages` in order, through the
engine, which decides whether to run or reuse each. It imports no torch: the ML stages live in
`comicc.engine.style_stage` and are imported only when they actually have to run.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comicc import __version__
from comicc.engine import stages
from comicc.engine.cache import Cache, Entry
from comicc.engine.engine import Engine
from comicc.engine.request import BuildRequest, OutputFormat
from comicc.engine.settings import BuildSettings, resolve_settings
from comicc.engine.stages import FileHashes, Log
from comicc.engine.stamp import BuildStamp, FileIndex, code_files, stamp_path, stats, write_stamp
from comicc.files import link_atomic, sha256_file
from comicc.interrupts import committing
from comicc.manifest.diagnostics import AuthorError, Diagnostic, DiagnosticSink
from comicc.manifest.images import upright_size
from comicc.manifest.load import Project, load_project
from comicc.manifest.matrix import panel_label, target_matrix
from comicc.manifest.models import Comic

if TYPE_CHECKING:
    from comicc.ml.distributed import BuildGroup, Launch
    from comicc.page.colour import PrintSettings


@dataclass
class BuildResult:
    """What a finished build produced."""

    output: Path
    report: Path | None
    engine: Engine
    diagnostics: list[Diagnostic]
    seconds: float


# -- output --------------------------------------------------------------------------

def resolve_output(project: Project, request: BuildRequest) -> tuple[Path, OutputFormat]:
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
    if resolved.is_relative_to(Cache(project.root, request.cache_dir).root.resolve()):
        raise AuthorError(Diagnostic("error", "the output path is inside the build cache",
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


# -- the build -------------------------------------------------------------------------

def provenance_text(comic: Comic, settings: BuildSettings, model: str) -> str:
    authors = ", ".join(comic.comic.authors) or "the author"
    if settings.backend == "none":
        return (f"Art and story by {authors}. Pages laid out and lettered by comicc {__version__} "
                "from the author's own art; no machine-learning restyling was applied.")
    return (f"Art and story by {authors}. Panels restyled by comicc {__version__} from the "
            f"author's own concept art (backend: {settings.backend}; network: {model}).")


@dataclass
class BuildRun:
    """One build in progress: what the stages share while the engine runs them."""

    project: Project
    settings: BuildSettings
    cache: Cache
    engine: Engine
    files: FileHashes
    sink: DiagnosticSink
    say: Log
    summary: dict[str, Any]
    notes: list[str]  # what any build of these inputs says, whatever runs (for the stamp)

    def note(self, message: str) -> None:
        """Say a message that a replay of this build (comicc.engine.stamp) says again."""
        self.notes.append(message)
        self.say(message)


@dataclass(frozen=True)
class Panels:
    """The panel images the pages are laid out with: styled (cache blobs) or the raw art."""

    styled_blobs: list[str] | None  # None: nothing was restyled
    sizes: list[tuple[int, int]]
    model: str  # the style network's name, for the provenance line


def build(project: Project, request: BuildRequest, log: Log | None = None,
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
    settings = resolve_settings(project, request)
    output, fmt = resolve_output(project, request)
    sink = DiagnosticSink()
    sink.extend(project.warnings)
    notes: list[str] = []
    if settings.run.backend_reason:
        notes.append(f"backend: {settings.backend} ({settings.run.backend_reason})")
        if log is not None:
            log(notes[-1])
    cache = Cache(cache_root or project.root, request.cache_dir)
    with cache.lock(timeout=float(os.environ.get("COMICC_LOCK_WAIT", "0"))):
        index = FileIndex(cache.root)
        cache.index = index
        run = BuildRun(project, settings, cache, Engine(cache), FileHashes(project, index), sink,
                       log or (lambda message: None),
                       {"matrix": json.loads(target_matrix(project.comic).to_json())}, notes)
        panels = _style(run, group) if settings.backend != "none" else _raw_panels(project)
        plans = _plan_pages(run, panels.sizes)
        printing = _print_settings(project, request, fmt)
        book = _book(run, fmt, plans, panels, printing)
        _write_output(run, book, fmt, output)
        if printing.pdf != "plain" and fmt == "pdf":
            sink.extend(_preflight(run, book.outputs["book.pdf"], output, printing))
        report_path = _report(run, output, panels) if request.report else None
        if record:
            cache.record_build()
        index.save()
        # A stamp lets the next identical command answer by stat (comicc.engine.stamp).
        if record and cache_root is None and group is None \
                and not _asks_the_machine(project, request):
            _stamp(run, request, output, report_path, index)
    return BuildResult(output, report_path, run.engine, sink.items,
                       time.perf_counter() - started)


def _stamp(run: BuildRun, request: BuildRequest, output: Path, report_path: Path | None,
           index: FileIndex) -> None:
    """Record what this build read, wrote and printed, for `comicc.engine.stamp.replay`."""
    cache = run.cache
    stamp = BuildStamp(
        read=stats(_files_read(run.project)),
        wrote=stats([output, *_report_files(output, report_path),
                     *(cache.root / f"{name}.json" for name in sorted(cache.used)
                       if name.startswith("entries/"))]),
        notes=run.notes, diagnostics=[d.render() for d in run.sink.items],
        stages=[(r.stage, r.instance) for r in run.engine.reports],
        output=str(output), report=str(report_path) if report_path else None)
    write_stamp(stamp_path(cache.root, request, run.project.manifest_path), stamp,
                index.started_ns)


def _asks_the_machine(project: Project, request: BuildRequest) -> bool:
    """Whether the settings depend on more than the files (auto looks for CLIP weights)."""
    build = project.comic.build
    return (request.backend or build.backend) == "auto" and bool(build.clip_pretrained) \
        and not build.clip_checkpoint


def _files_read(project: Project) -> list[Path]:
    """Every file and folder a build of `project` reads, comicc's own code included."""
    from comicc.manifest.layouts import layout_dirs

    templates = layout_dirs(project.root)[0]
    found = [project.manifest_path, *input_files(project), templates, *code_files()]
    if templates.is_dir():
        found += sorted(templates.iterdir())
    if project.comic.build.clip_checkpoint:
        found.append(project.path(project.comic.build.clip_checkpoint))
    return found


def _report_files(output: Path, report: Path | None) -> list[Path]:
    from comicc.report.html import report_paths

    return [] if report is None else list(report_paths(output))


def _raw_panels(project: Project) -> Panels:
    sizes = [upright_size(project.path(panel.art)) for _, _, panel in project.comic.panels()]
    return Panels(None, sizes, "none")


def _style(run: BuildRun, group: BuildGroup | None) -> Panels:
    """The classify and style stages: the restyled panels, through the cache."""
    project, settings, cache = run.project, run.settings, run.cache
    comic = project.comic
    classify = run.engine.run(
        stages.CLASSIFY, "classify", stages.classify_inputs(comic, run.files, settings),
        lambda: _style_stage().run_classify(project, settings, run.say))
    inputs = stages.style_inputs(comic, run.files, settings, classify.key,
                                 stages.panel_print_sizes(project))
    style = run.engine.run(
        stages.STYLE, "style", inputs,
        lambda: _style_stage().run_style(project, settings, cache, classify, inputs, run.say,
                                         group=group))
    run.summary["style"] = json.loads(cache.get_blob(style.outputs["summary.json"]))
    run.summary["classifiers"] = classify.meta
    _warn_weak_classifiers(run, classify.meta)
    for note in style.meta.get("notes", []):
        run.note(note)
    blobs = [style.outputs[f"panel-{panel_label(p, j)}.png"] for p, j, _ in comic.panels()]
    sizes = [(int(w), int(h)) for w, h in style.meta["sizes"]]
    return Panels(blobs, sizes, style.meta.get("model", settings.stylenet))


def _warn_weak_classifiers(run: BuildRun, meta: dict[str, Any]) -> None:
    for name in meta.get("weak", []):
        run.sink.add(run.project.locate(Diagnostic(
            "warning", weak_classifier_message(name, meta.get("accuracy", {}).get(name)),
            key_path=("elements", name), code="weak-classifier",
            hint="add references that show it clearly, or mark it in more panels")))


def weak_classifier_message(name: str, accuracy: float | None) -> str:
    """The warning for an element whose head is weak, saying what the loss does about it."""
    if accuracy is not None and not math.isnan(accuracy):
        # train.judged_heads: a head measured weak is left out of the classifier BCE.
        # Rounded down to a tenth of a percent: 0.8958 under a 0.9 gate reads 89.5 %, not 90.
        shown = math.floor(accuracy * 1000) / 10
        return (f"the classifier for `{name}` cannot reliably tell it apart (held-out "
                f"accuracy {shown:g}%); its classifier term is left out of the loss, "
                "and only the identity, structure and colour terms keep it")
    return (f"the classifier for `{name}` cannot reliably tell it apart (no held-out "
            "measurement possible); the consistency term may not protect it")


def _plan_pages(run: BuildRun, sizes: list[tuple[int, int]]) -> list[Entry]:
    """The page stage, once per page: each page's plan and its lettering diagnostics."""
    project = run.project
    fonts = stages.fonts_hash()
    plans = []
    start = 0
    for p, page in enumerate(project.comic.page):
        page_sizes = sizes[start:start + len(page.panel)]
        start += len(page.panel)
        entry = run.engine.run(
            stages.PAGE, f"page {p + 1}", stages.page_inputs(project, p, page_sizes, fonts),
            lambda p=p, s=page_sizes: stages.plan_page_stage(project, p, s))
        for diagnostic in stages.page_diagnostics(entry):
            run.sink.add(project.locate(diagnostic))
        plans.append(entry)
    return plans


def _print_settings(project: Project, request: BuildRequest, fmt: OutputFormat) -> PrintSettings:
    """How the book is made for press: [comic]'s print settings, --pdf over them (a CBZ is
    never PDF/X)."""
    from comicc.page.colour import PLAIN, resolve_print

    if fmt != "pdf":
        return PLAIN
    return resolve_print(project.comic, project.root, request.pdf, locate=project.locate)


def _book(run: BuildRun, fmt: OutputFormat, plans: list[Entry], panels: Panels,
          printing: PrintSettings) -> Entry:
    """The pdf or cbz stage: the book's bytes in the cache."""
    project, comic = run.project, run.project.comic
    provenance = provenance_text(comic, run.settings, panels.model)
    art_ids = panels.styled_blobs or [run.files(panel.art) for _, _, panel in comic.panels()]
    inputs = stages.book_inputs(comic, plans, art_ids, provenance, stages.fonts_hash(), printing)
    return run.engine.run(
        stages.BOOK_STAGES[fmt], fmt, inputs,
        lambda: stages.write_book_stage(project, fmt, plans, panels.styled_blobs, art_ids,
                                        run.cache, provenance, printing))


def _preflight(run: BuildRun, book: str, output: Path,
               printing: PrintSettings) -> list[Diagnostic]:
    """The printer's checks on the written PDF, as warnings (the file is written regardless)."""
    from comicc.page.preflight import findings_from_json
    from comicc.page.printers import PRINTERS

    data = run.cache.blob_file(book)
    entry = run.engine.run(stages.PREFLIGHT, "preflight", stages.preflight_inputs(book, printing),
                           lambda: stages.preflight_stage(data, printing))
    # The page planner has already warned, at the panel's line, of art below the comic's dpi.
    planned = run.project.comic.comic.dpi >= PRINTERS[printing.printer].min_ppi
    return [f.diagnostic(output, severity="warning")
            for f in findings_from_json(entry.meta["findings"])
            if not (planned and f.code == "resolution")]


def _write_output(run: BuildRun, book: Entry, fmt: OutputFormat, output: Path) -> None:
    """Copy the book out of the cache, unless the output already holds these bytes."""
    blob = book.outputs[f"book.{fmt}"]
    index = run.cache.index
    # Another size means other bytes: no need to hash a long book (hundreds of MB) to know.
    if output.exists() and output.stat().st_size == run.cache.blob_size(blob) \
            and (index.sha256(output) if index is not None else sha256_file(output)) == blob:
        return
    try:
        with committing(output):  # a Ctrl-C just after the rename still names the new book
            link_atomic(run.cache.blob_file(blob), output)
        if index is not None:
            index.record(output, blob)
    except OSError as exc:
        raise AuthorError(Diagnostic("error", f"cannot write the output: {exc.strerror}",
                                     file=output, code="output")) from None


def _report(run: BuildRun, output: Path, panels: Panels) -> Path:
    return write_build_report(run.project, output, run.engine, run.summary, run.sink,
                              panels.styled_blobs, run.settings, run.files)


def write_build_report(project: Project, output: Path, engine: Engine, summary: dict[str, Any],
                       sink: DiagnosticSink, styled_blobs: list[str] | None,
                       settings: BuildSettings, files: FileHashes | None = None) -> Path:
    """The report stage (its pictures, cached), then the HTML and JSON beside the book.

    Where the independent judge and the build's classifiers disagree, a warning goes to
    `sink` (the console's and the report's list)."""
    from comicc.report.html import write_report
    from comicc.report.sections import judge_section, judge_warnings, matrix_section

    cache = engine.cache
    files = files or FileHashes(project)
    judge = None
    if styled_blobs is not None:
        # What the judge learns from the concept art is kept: a restyle only re-measures.
        regions = stages.judge_regions(project, summary.get("classifiers", {}).get("regions", {}))
        learnt = engine.run(stages.JUDGE, "judge",
                            stages.judge_inputs(project, files, settings.device_class(), regions),
                            lambda: stages.judge_stage(project, cache, settings.device, regions))
        judge = learnt.outputs["judge.safetensors"]
    inputs = stages.pictures_inputs(project, files, styled_blobs, settings.device_class(), judge)
    entry = engine.run(
        stages.REPORT, "pictures", inputs,
        lambda: stages.pictures_stage(project, styled_blobs, cache, settings.device, judge))
    pictures = json.loads(cache.get_blob(entry.outputs["pictures.json"]))
    judged = judge_section(matrix_section(summary["matrix"], summary.get("style")),
                           pictures.get("judge"))
    sink.extend(project.locate(d) for d in judge_warnings(project.comic, judged))
    return write_report(project, output, engine.reports, summary, sink.items, pictures,
                        settings.summary())


def _style_stage() -> Any:
    from comicc.engine import style_stage

    return style_stage


# -- command-line entry ----------------------------------------------------------------

def run_build(request: BuildRequest) -> int:
    """`comicc build`: build, print diagnostics and --explain, return the exit code."""
    def say(message: str) -> None:
        if not request.quiet:
            print(message, file=sys.stderr)

    from comicc.ml.distributed import own_threads, release_threads

    own_threads()  # the command line picks torch's CPU threads (torch is not imported here)
    try:
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


def _run_distributed(project: Project, request: BuildRequest, launch: Launch, say: Log) -> int:
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
