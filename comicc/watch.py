"""`comicc watch`: rebuild the comic on every save of its manifest, art or templates.

Each rebuild loads the project anew and goes through the incremental engine, so editing a
balloon re-letters only its page. An author error is printed and the watcher waits for the
next save; Ctrl-C stops it cleanly.

The build's own messages (the backend it chose, the network, notes) describe the setup, so
they are printed for the first build only (each once, until a build succeeds); after that
a rebuild prints exactly one summary line, plus its errors and any warning not seen before.
"""

from __future__ import annotations

import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from comicc.engine.cache import CACHE_DIR
from comicc.engine.engine import StageReport
from comicc.engine.pipeline import BuildResult, build
from comicc.engine.request import BuildRequest
from comicc.manifest.checks import IMAGE_SUFFIXES
from comicc.manifest.diagnostics import AuthorError, Diagnostic
from comicc.manifest.load import display_path, find_manifest, load_project

# Quiet time after the last change before rebuilding: an editor's save is often several writes.
DEBOUNCE_MS = 300
# Longest a burst of changes is grouped before a rebuild starts anyway.
MAX_GROUPING_MS = 3000
# How often the watcher wakes to check its stop event when nothing changes.
POLL_MS = 200
# Editor swap, backup and lock files (vim, emacs, JetBrains, LibreOffice, Chrome, atomic saves).
EDITOR_TEMP = re.compile(
    r"(\.sw[a-p]x?$|~$|^\.#|^#.*#$|^4913$|\.tmp$|\.crswap$|^\.~lock\.|___jb_(tmp|old)___$)"
)
IGNORED_FOLDERS = {CACHE_DIR, ".git", ".hg", ".svn", "__pycache__"}


class StopEvent(Protocol):
    """Anything with `is_set()`, e.g. `threading.Event`."""

    def is_set(self) -> bool: ...


@dataclass
class Rebuild:
    """One build the watcher ran: its result, or the author errors that stopped it."""

    number: int  # 0 is the build when watching starts
    changed: list[Path]
    result: BuildResult | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    seconds: float = 0.0
    failure: str | None = None  # an internal error's message

    @property
    def ok(self) -> bool:
        return self.result is not None


class ProjectFilter:
    """Which changed paths are inputs of the comic: the manifest, images, and `templates/`.

    The cache, version-control folders and editor temporary files never count; outputs
    (PDF, CBZ, the report) are not images, so writing them never triggers a rebuild.
    """

    def __init__(self, root: Path, manifest: Path):
        self.root = root
        self.manifest = manifest

    def __call__(self, change: object, path: str) -> bool:
        return self.relevant(Path(path))

    def relevant(self, path: Path) -> bool:
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return False
        if IGNORED_FOLDERS.intersection(relative.parts) or EDITOR_TEMP.search(path.name):
            return False
        if path == self.manifest or relative.parts[:1] == ("templates",):
            return True
        return path.suffix.lower() in IMAGE_SUFFIXES


def stage_name(report: StageReport) -> str:
    """A stage instance as the author reads it: "page 2", "pdf", "report pictures"."""
    if report.instance.startswith(report.stage):
        return report.instance
    return f"{report.stage} {report.instance}"


def summary_line(result: BuildResult, verb: str = "rebuilt") -> str:
    """One line per build: what ran and why, and how much was reused.

    e.g. `rebuilt in 0.4s: page 2 ran (balloon text on page 2 changed); pdf ran (page plans
    changed); 2 reused`. Stages that ran for the same reasons are named together.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for report in result.engine.reports:
        if report.status == "ran":
            groups.setdefault(tuple(report.reasons), []).append(stage_name(report))
    reused = sum(r.status != "ran" for r in result.engine.reports)
    ran = [f"{', '.join(names)} ran" + (f" ({'; '.join(reasons)})" if reasons else "")
           for reasons, names in groups.items()]
    what = "; ".join(ran) if ran else "nothing changed"
    return f"{verb} in {result.seconds:.1f}s: {what}; {reused} reused"


class Watcher:
    """Builds a project now and again after every relevant save.

    `on_build` sees every `Rebuild`; `stop_event` and `max_rebuilds` (rebuilds after the
    first build) bound the watch, for scripts and tests.
    """

    def __init__(self, request: BuildRequest, *, out: Callable[[str], None] | None = None,
                 err: Callable[[str], None] | None = None,
                 on_build: Callable[[Rebuild], None] | None = None, debug: bool = False):
        self.manifest = find_manifest(request.path).resolve()
        self.root = self.manifest.parent
        self.request = replace(request, path=self.manifest)
        self.out = out or (lambda line: print(line, flush=True))
        self.err = err or (lambda line: print(line, file=sys.stderr, flush=True))
        self.on_build = on_build
        self.debug = debug
        self.builds = 0  # how many builds have finished, the first one included
        self.last: Rebuild | None = None
        self._shown_warnings: set[str] = set()
        self._shown_messages: set[str] = set()
        self._succeeded = False  # a build has finished: its messages have all been shown

    def _show(self, diagnostics: list[Diagnostic], complete: bool) -> None:
        """Errors every time; a warning only when it is new, so rebuilds stay one line each.

        `complete` is False for a failed build, which stops before some warnings are found.
        """
        warnings = set()
        for diagnostic in diagnostics:
            text = diagnostic.render()
            if diagnostic.severity == "warning":
                warnings.add(text)
                if text in self._shown_warnings:
                    continue
            self.err(text)
        self._shown_warnings = warnings if complete else self._shown_warnings | warnings

    def _say(self, message: str) -> None:
        """A build's message: shown once, and only until a build has succeeded."""
        if not self._succeeded and message not in self._shown_messages:
            self._shown_messages.add(message)
            self.err(message)

    def build_once(self, changed: list[Path]) -> Rebuild:
        """Load the project anew and build it; errors are reported, not raised."""
        number = self.builds
        started = time.perf_counter()
        log = None if self.request.quiet else self._say
        try:
            result = build(load_project(self.manifest), self.request, log=log)
            rebuild = Rebuild(number, changed, result, list(result.diagnostics),
                              time.perf_counter() - started)
            self._succeeded = True
            self._show(result.diagnostics, complete=True)
            self.out(summary_line(result, "built" if number == 0 else "rebuilt"))
        except AuthorError as exc:
            rebuild = Rebuild(number, changed, None, list(exc.diagnostics),
                              time.perf_counter() - started)
            self._show(exc.diagnostics, complete=False)
            self.out("build failed; fix the error above and save again")
        except Exception as exc:  # a bug in one build should not end the author's session
            if self.debug:
                self.err(traceback.format_exc())
            failure = f"{type(exc).__name__}: {exc}"
            rebuild = Rebuild(number, changed, None, [], time.perf_counter() - started, failure)
            self.err(f"comicc: internal error: {failure}")
            self.out("build failed (internal error); waiting for the next save")
        self.builds, self.last = number + 1, rebuild
        if self.on_build is not None:
            self.on_build(rebuild)
        return rebuild

    def run(self, stop_event: StopEvent | None = None, max_rebuilds: int | None = None,
            debounce_ms: int = DEBOUNCE_MS) -> int:
        """Watch until Ctrl-C, `stop_event` or `max_rebuilds`; returns the exit code (0)."""
        import watchfiles

        relevant = ProjectFilter(self.root, self.manifest)
        changes_seen = 0
        try:
            for changes in watchfiles.watch(self.root, watch_filter=relevant, step=debounce_ms,
                                            debounce=MAX_GROUPING_MS, stop_event=stop_event,
                                            rust_timeout=POLL_MS, yield_on_timeout=True):
                if not self.builds:
                    # The watcher is armed now, so a save during this first build is not lost.
                    self.build_once([])
                    self.out(f"watching {display_path(self.root)} for changes to "
                             f"{self.manifest.name}, art and templates (Ctrl-C to stop)")
                    continue
                if not changes:
                    continue
                changes_seen += 1
                changed = sorted({Path(path) for _, path in changes})
                self.build_once(changed)
                if max_rebuilds is not None and changes_seen >= max_rebuilds:
                    break
        except KeyboardInterrupt:
            self.err("comicc: stopped watching")
        return 0


def watch(request: BuildRequest, *, stop_event: StopEvent | None = None,
          max_rebuilds: int | None = None, on_build: Callable[[Rebuild], None] | None = None,
          debug: bool = False) -> int:
    """`comicc watch`: build now, then rebuild after every save until stopped; returns 0.

    Raises AuthorError only when there is no comic.toml to watch.
    """
    watcher = Watcher(request, on_build=on_build, debug=debug)
    return watcher.run(stop_event=stop_event, max_rebuilds=max_rebuilds)
