"""Cross-reference checks a schema cannot express: names, files, layouts, the target matrix."""

from __future__ import annotations

import math
import os
from pathlib import Path

from comicc.manifest.diagnostics import Diagnostic, DiagnosticSink, KeyPath, did_you_mean
from comicc.manifest.models import Comic

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".tif", ".tiff", ".bmp"}


def check_comic(comic: Comic, root: Path, sink: DiagnosticSink) -> None:
    """Run every cross-reference check, adding all problems to `sink`."""
    _check_references(comic, sink)
    _check_styles(comic, sink)
    _check_files(comic, root, sink)
    _check_layouts(comic, root, sink)
    _check_matrix(comic, sink)


def _check_references(comic: Comic, sink: DiagnosticSink) -> None:
    ids = comic.element_ids()
    for p, j, panel in comic.panels():
        here: KeyPath = ("page", p, "panel", j)
        seen: set[str] = set()
        for k, name in enumerate(panel.elements):
            if name not in comic.elements:
                sink.add(_unknown(name, ids, (*here, "elements", k), "element"))
            elif name in seen:
                sink.add(Diagnostic("warning", f"element `{name}` is listed twice in this panel",
                                    key_path=(*here, "elements", k), code="duplicate"))
            seen.add(name)
        for name in panel.regions:
            if name not in comic.elements:
                sink.add(_unknown(name, ids, (*here, "regions", name), "element"))
            elif name not in panel.elements:
                sink.add(Diagnostic(
                    "error", f"region given for `{name}`, which this panel does not list as present",
                    key_path=(*here, "regions", name), code="region",
                    hint=f'add "{name}" to this panel\'s elements, or remove its region'))
        for b, balloon in enumerate(panel.balloons):
            speaker = balloon.speaker
            if speaker is not None and speaker not in comic.elements:
                sink.add(_unknown(speaker, ids, (*here, "balloons", b, "speaker"), "speaker"))


def _check_styles(comic: Comic, sink: DiagnosticSink) -> None:
    """Style names/indices/mixes for the pretrained network, checked without loading it."""
    specs: list[tuple[object, KeyPath]] = [(comic.comic.style, ("comic", "style"))]
    specs += [(panel.style, ("page", p, "panel", j, "style")) for p, j, panel in comic.panels()]
    for spec, path in specs:
        if spec is None:
            continue
        items = spec.items() if isinstance(spec, dict) else [(spec, 1.0)]
        for key, weight in items:
            where = (*path, key) if isinstance(spec, dict) else path
            problem = _style_problem(key)
            if problem is not None:
                sink.add(Diagnostic("error", problem[0], key_path=where, hint=problem[1],
                                    code="unknown-style"))
            elif not math.isfinite(weight):
                sink.add(Diagnostic("error", f"style weight {weight} is not a finite number",
                                    key_path=where, code="invalid-value"))
            elif weight < 0:
                sink.add(Diagnostic("error", f"style weight {weight} is negative", key_path=where,
                                    code="invalid-value"))
        # NaN compares false with everything, so a mix of NaNs would slip past `<= 0`.
        if isinstance(spec, dict) and not sum(spec.values()) > 0:
            sink.add(Diagnostic("error", "a style mix needs at least one positive weight",
                                key_path=path, code="invalid-value"))


def _style_problem(key: object) -> tuple[str, str | None] | None:
    from comicc.manifest.styles import NUM_STYLES, STYLE_NAMES

    if isinstance(key, str) and key.isdigit():
        key = int(key)
    if isinstance(key, int):
        if 0 <= key < NUM_STYLES:
            return None
        return f"style index {key} is out of range", f"use 0 to {NUM_STYLES - 1} or a style name"
    if key in STYLE_NAMES:
        return None
    return (f"unknown style `{key}`",
            did_you_mean(str(key), STYLE_NAMES) or "styles: " + ", ".join(STYLE_NAMES))


def _unknown(name: str, ids: list[str], path: KeyPath, what: str) -> Diagnostic:
    hint = did_you_mean(name, ids)
    if hint is None:
        hint = ("declared elements: " + ", ".join(ids)) if ids else "declare it under [elements.<id>]"
    return Diagnostic("error", f"unknown {what} `{name}`", key_path=path, hint=hint,
                      code=f"unknown-{what}")


def project_file(root: Path, relative: str, path: KeyPath) -> tuple[Path | None, Diagnostic | None]:
    """Resolve an author-given path inside the project, refusing anything that leaves it."""
    if not relative.strip():
        return None, Diagnostic("error", "empty path", key_path=path, code="path")
    if "\0" in relative:
        return None, Diagnostic("error", f"path `{relative}` contains a NUL character",
                                key_path=path, code="path")
    if os.path.isabs(relative) or relative.startswith("~"):
        return None, Diagnostic("error", f"absolute path `{relative}`; paths are relative to the "
                                "project folder", key_path=path, code="path",
                                hint="copy the file into the project and give its relative path")
    try:
        return _inside_project(root, relative, path)
    except OSError as exc:  # a name too long for the file system, a looping link, ...
        return None, Diagnostic("error", f"cannot use `{relative}`: {exc.strerror}",
                                key_path=path, code="path")


def _inside_project(root: Path, relative: str,
                    path: KeyPath) -> tuple[Path | None, Diagnostic | None]:
    candidate = root / relative
    try:
        resolved = candidate.resolve()
    except RuntimeError:
        return None, Diagnostic("error", f"cannot resolve `{relative}`", key_path=path, code="path")
    if not resolved.is_relative_to(root.resolve()):
        kind = "through a symbolic link " if ".." not in Path(relative).parts else ""
        return None, Diagnostic("error", f"`{relative}` leads {kind}outside the project folder",
                                key_path=path, code="path",
                                hint="keep art inside the comic's folder so the project is "
                                "self-contained")
    if resolved.is_dir():
        return None, Diagnostic("error", f"`{relative}` is a directory, expected a file",
                                key_path=path, code="path")
    if not resolved.exists():
        hint = None
        if resolved.parent.is_dir():
            hint = did_you_mean(resolved.name, [p.name for p in resolved.parent.iterdir()])
        return None, Diagnostic("error", f"file `{relative}` not found", key_path=path,
                                code="missing-file", hint=hint)
    if not resolved.is_file():
        return None, Diagnostic("error", f"`{relative}` is not a regular file (a device, pipe or "
                                "socket)", key_path=path, code="path")
    if not os.access(resolved, os.R_OK):
        return None, Diagnostic("error", f"file `{relative}` is not readable (permission denied)",
                                key_path=path, code="path")
    return resolved, None


def _check_image(root: Path, relative: str, path: KeyPath, sink: DiagnosticSink) -> None:
    from comicc.manifest.images import ImageProblem, probe_image

    resolved, problem = project_file(root, relative, path)
    if problem is not None:
        sink.add(problem)
        return
    assert resolved is not None
    # Header and checksums only: cheap, catches text files named .png, truncated PNGs and bombs.
    try:
        info = probe_image(resolved)
    except ImageProblem as bad:
        sink.add(Diagnostic("error", f"`{relative}`: {bad.message}", key_path=path, code="image",
                            hint=bad.hint))
        return
    if info.frames > 1:
        sink.add(Diagnostic("warning", f"`{relative}` is animated ({info.frames} frames); comicc "
                            "uses the first frame", key_path=path, code="image",
                            hint="export the frame you want as a still PNG"))


def _check_files(comic: Comic, root: Path, sink: DiagnosticSink) -> None:
    if comic.comic.style_image is not None:
        _check_image(root, comic.comic.style_image, ("comic", "style_image"), sink)
    if comic.build.clip_checkpoint is not None:
        _, problem = project_file(root, comic.build.clip_checkpoint, ("build", "clip_checkpoint"))
        if problem is not None:
            sink.add(problem)
    if comic.comic.icc_profile is not None:
        _, problem = project_file(root, comic.comic.icc_profile, ("comic", "icc_profile"))
        if problem is not None:
            sink.add(problem)
    for name, element in comic.elements.items():
        for k, ref in enumerate(element.references):
            _check_image(root, ref, ("elements", name, "references", k), sink)
    for p, j, panel in comic.panels():
        _check_image(root, panel.art, ("page", p, "panel", j, "art"), sink)
    for kind, font in comic.lettering.fonts.items():
        _check_font(root, font, ("lettering", "fonts", kind), sink)


def _check_font(root: Path, relative: str, path: KeyPath, sink: DiagnosticSink) -> None:
    from reportlab.pdfbase.ttfonts import TTFError, TTFontFile

    resolved, problem = project_file(root, relative, path)
    if problem is not None:
        sink.add(problem)
        return
    try:
        TTFontFile(str(resolved))
    except (TTFError, OSError, AssertionError, KeyError, ValueError) as exc:
        sink.add(Diagnostic("error", f"`{relative}` is not a TrueType font comicc can embed: {exc}",
                            key_path=path, code="font",
                            hint="use a .ttf with TrueType (glyf) outlines; CFF-based .otf fonts "
                            "can be converted with fontTools"))


def _check_layouts(comic: Comic, root: Path, sink: DiagnosticSink) -> None:
    from comicc.manifest.layouts import available_layouts

    try:
        layouts = available_layouts(root)
    except Exception as exc:  # a broken project template is reported, not raised here
        from comicc.manifest.diagnostics import AuthorError

        if isinstance(exc, AuthorError):
            sink.extend(exc.diagnostics)
            return
        raise
    for p, page in enumerate(comic.page):
        info = layouts.get(page.layout)
        if info is None:
            hint = did_you_mean(page.layout, layouts) or "available: " + ", ".join(sorted(layouts))
            sink.add(Diagnostic("error", f"unknown layout `{page.layout}`",
                                key_path=("page", p, "layout"), hint=hint, code="unknown-layout"))
        elif len(page.panel) > info.capacity:
            sink.add(Diagnostic(
                "error",
                f"page has {len(page.panel)} panels but layout `{page.layout}` holds "
                f"{info.capacity}",
                key_path=("page", p, "panel", info.capacity), code="layout-capacity",
                hint="choose a layout with more panels, or move panels to another page"))
        elif len(page.panel) < info.min_panels:
            sink.add(Diagnostic(
                "error",
                f"page has {len(page.panel)} panel(s) but layout `{page.layout}` needs at least "
                f"{info.min_panels}",
                key_path=("page", p, "layout"), code="layout-capacity",
                hint="choose a layout for fewer panels, or add panels to this page"))


def _check_matrix(comic: Comic, sink: DiagnosticSink) -> None:
    present = {name for _, _, panel in comic.panels() for name in panel.elements}
    for name in comic.elements:
        if name not in present:
            sink.add(Diagnostic("warning", f"element `{name}` appears in no panel",
                                key_path=("elements", name), code="unused-element",
                                hint="list it in a panel's elements, or remove it"))
