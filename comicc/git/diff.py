"""`comicc diff`: build two revisions of a comic and show what changed, page by page.

Each side is built with the working copy's cache (it is content-addressed, so whatever the
two revisions share, styled panels included, is reused rather than recomputed), both PDFs
are rendered, and every page that looks different gets a side-by-side picture with the
changed areas outlined. The manifests are compared too, so the author reads which
balloon, panel or page changed in words as well as in pictures.
"""

from __future__ import annotations

import html
import re
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from comicc.engine.cache import CACHE_DIR
from comicc.engine.engine import StageReport
from comicc.engine.pipeline import BuildResult, build
from comicc.engine.request import BuildRequest
from comicc.git.changes import Change, manifest_changes
from comicc.git.revisions import Repo, Revision, export_revision, find_repo, resolve_revision
from comicc.git.visual import Box, changed_boxes, render_pages, side_by_side
from comicc.manifest.diagnostics import AuthorError, Diagnostic
from comicc.manifest.load import MANIFEST_NAME, Project, find_manifest, load_project

DEFAULT_DPI = 72.0
PICTURE = re.compile(r"^page-\d{3,}\.png$")


@dataclass(frozen=True)
class PageDiff:
    """One page that looks different: its number, the changed areas and its picture."""

    number: int  # 1-based
    status: str  # "changed", "added" or "removed"
    boxes: list[Box]
    picture: Path


@dataclass
class DiffResult:
    """Everything `comicc diff` found."""

    old: Revision
    new: Revision
    changes: list[Change]
    pages: list[PageDiff]
    index: Path
    # Per side: what each build ran or reused, and its rendered pages (the PDFs were temporary).
    reports: tuple[list[StageReport], list[StageReport]] = ([], [])
    renders: tuple[list[Image.Image], list[Image.Image]] = ([], [])

    @property
    def identical(self) -> bool:
        return not self.changes and not self.pages


def split_arguments(arguments: Sequence[str]) -> tuple[str, str | None, str]:
    """`[REV_A] [REV_B] [PATH]` -> (rev_a, rev_b or None for the working tree, path).

    With fewer than three arguments the last one is the path when it names an existing
    file or folder; REV_A defaults to HEAD.
    """
    args = list(arguments)
    if len(args) > 3:
        raise AuthorError(Diagnostic("error", f"too many arguments: {' '.join(args[3:])}",
                                     code="usage", hint="comicc diff [REV_A] [REV_B] [PATH]"))
    path = "."
    if len(args) == 3 or (args and Path(args[-1]).exists()):
        path = args.pop()
    rev_a = args[0] if args else "HEAD"
    rev_b = args[1] if len(args) > 1 else None
    return rev_a, rev_b, path


def _project_at(revision: Revision, repo: Repo, project_root: Path,
                scratch: Path) -> tuple[Project, Path]:
    """Load one side: the working copy in place, or a revision exported to `scratch`."""
    if revision.commit is None:
        return load_project(project_root), project_root
    root = export_revision(repo, revision, scratch)
    try:
        return load_project(root), scratch
    except AuthorError as exc:
        raise _in_revision(exc, revision, scratch) from None


def _in_revision(exc: AuthorError, revision: Revision, scratch: Path) -> AuthorError:
    """Name an exported revision's files as git does (`HEAD~1:comic/comic.toml`), not temp paths."""
    diagnostics = []
    for diagnostic in exc.diagnostics:
        file = diagnostic.file
        if file is not None:
            try:
                inside = Path(file).resolve().relative_to(scratch.resolve())
                file = Path(f"{revision.name}:{inside.as_posix()}")
            except ValueError:
                pass
        diagnostics.append(replace(diagnostic, file=file))
    return AuthorError(diagnostics)


def diff_revisions(path: str | Path = ".", old: str = "HEAD", new: str | None = None,
                   out_dir: Path | None = None, request: BuildRequest | None = None,
                   dpi: float = DEFAULT_DPI,
                   log: Callable[[str], None] | None = None) -> DiffResult:
    """Compare revision `old` of the comic at `path` with `new` (None: the working tree).

    Writes `page-NNN.png` for every page that looks different and an `index.html` into
    `out_dir` (default `<comic>/.comicc/diff/`), replacing the pictures of an earlier diff
    there. `request` carries build options (backend, preset, ...); its path and output are
    ignored. Raises AuthorError when the comic is not in git or a revision does not exist.
    """
    root = find_manifest(path).resolve().parent
    repo = find_repo(root)
    sides = (resolve_revision(repo, old), resolve_revision(repo, new))
    options = replace(request or BuildRequest(), report=False, format="pdf", explain=False)
    out_dir = Path(out_dir) if out_dir is not None else root / CACHE_DIR / "diff"
    with tempfile.TemporaryDirectory(prefix="comicc-diff-") as tmp:
        projects: dict[int, Project] = {}
        results: dict[int, BuildResult] = {}
        # The working tree is built last so `comicc build --explain` keeps comparing with it.
        for k in sorted(range(2), key=lambda k: sides[k].commit is None):
            if log:
                log(f"building {sides[k].label}")
            projects[k], results[k] = _build_side(sides[k], repo, root, Path(tmp) / "ab"[k],
                                                  options, log)
        changes = manifest_changes(projects[0], projects[1])
        renders = (render_pages(results[0].output, dpi), render_pages(results[1].output, dpi))
    pages = _page_pictures(renders, sides, out_dir)
    index = write_index(out_dir, sides, changes, pages)
    reports = (results[0].engine.reports, results[1].engine.reports)
    return DiffResult(sides[0], sides[1], changes, pages, index, reports, renders)


def _build_side(revision: Revision, repo: Repo, root: Path, scratch: Path,
                options: BuildRequest,
                log: Callable[[str], None] | None) -> tuple[Project, BuildResult]:
    """Load and build one side into `scratch`, with the working copy's cache."""
    project, origin = _project_at(revision, repo, root, scratch / "tree")
    try:
        result = build(project, replace(options, path=project.manifest_path,
                                        output=scratch / "book.pdf"), log=log, cache_root=root,
                       record=False)
    except AuthorError as exc:
        raise (exc if origin == root else _in_revision(exc, revision, origin)) from None
    return project, result


def _page_pictures(renders: tuple[list[Image.Image], list[Image.Image]],
                   sides: tuple[Revision, Revision], out_dir: Path) -> list[PageDiff]:
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.iterdir():
        if PICTURE.match(stale.name):
            stale.unlink()
    old, new = renders
    digits = max(3, len(str(max(len(old), len(new)))))
    pages = []
    for index in range(max(len(old), len(new))):
        a = old[index] if index < len(old) else None
        b = new[index] if index < len(new) else None
        boxes = changed_boxes(a, b)
        if not boxes:
            continue
        status = "added" if a is None else "removed" if b is None else "changed"
        picture = out_dir / f"page-{index + 1:0{digits}d}.png"
        side_by_side(a, b, boxes, (sides[0].label, sides[1].label)).save(picture, optimize=True)
        pages.append(PageDiff(index + 1, status, boxes, picture))
    return pages


def write_index(out_dir: Path, sides: tuple[Revision, Revision], changes: list[Change],
                pages: list[PageDiff]) -> Path:
    """An `index.html` listing the changes in words and the pictures of changed pages."""
    title = f"comicc diff: {sides[0].label} → {sides[1].label}"
    parts = [f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(title)}</title><style>"
             "body{font-family:system-ui,sans-serif;margin:2em;background:#f4f4f4}"
             "img{max-width:100%;border:1px solid #999}li{margin:.2em 0}"
             "</style></head><body>", f"<h1>{html.escape(title)}</h1>"]
    if not changes and not pages:
        parts.append("<p>No differences.</p>")
    if changes:
        parts.append(f"<h2>In {MANIFEST_NAME} and the files it names</h2><ul>")
        parts += [f"<li>{html.escape(change.line())}</li>" for change in changes]
        parts.append("</ul>")
    if pages:
        parts.append("<h2>Pages that look different</h2><ul>")
        parts += [f"<li><a href=\"#page-{p.number}\">page {p.number}</a> ({p.status}, "
                  f"{len(p.boxes)} area{'' if len(p.boxes) == 1 else 's'})</li>" for p in pages]
        parts.append("</ul>")
    for page in pages:
        words = [c.text for c in changes if c.page == page.number]
        parts.append(f"<h2 id=\"page-{page.number}\">page {page.number} ({page.status})</h2>")
        if words:
            parts.append("<ul>" + "".join(f"<li>{html.escape(w)}</li>" for w in words) + "</ul>")
        parts.append(f"<img src=\"{html.escape(page.picture.name)}\" "
                     f"alt=\"page {page.number}: {html.escape(sides[0].label)} and "
                     f"{html.escape(sides[1].label)} side by side\">")
    parts.append("</body></html>\n")
    index = out_dir / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index


def run_diff(arguments: Sequence[str], out_dir: str | None, request: BuildRequest,
             dpi: float = DEFAULT_DPI) -> int:
    """`comicc diff`: print the changes in words and where the pictures are; returns 0."""
    old, new, path = split_arguments(arguments)

    def say(message: str) -> None:
        if not request.quiet:
            print(message, file=sys.stderr)

    result = diff_revisions(path, old, new, Path(out_dir) if out_dir else None, request, dpi,
                            log=say)
    print(f"comparing {result.old.label} with {result.new.label}")
    for change in result.changes:
        print(change.line())
    for page in result.pages:
        areas = f"{len(page.boxes)} area{'' if len(page.boxes) == 1 else 's'}"
        print(f"page {page.number} {page.status} ({areas}): {page.picture}")
    if result.identical:
        print("no differences")
    print(f"index: {result.index}")
    return 0
