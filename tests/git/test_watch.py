"""`comicc watch`: saves trigger incremental rebuilds; errors and Ctrl-C do not end it badly."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from comicc.engine.request import BuildRequest
from comicc.watch import ProjectFilter, Rebuild, Watcher, summary_line
from tests.git.conftest import edit_manifest

ROOT = Path(__file__).resolve().parents[2]
WAIT = 20.0  # seconds a rebuild may take on a busy machine before the test gives up


@dataclass
class Running:
    """A watcher on its own thread, with what it printed and each build it finished."""

    watcher: Watcher
    builds: queue.Queue[Rebuild] = field(default_factory=queue.Queue)
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)

    def next_build(self) -> Rebuild:
        return self.builds.get(timeout=WAIT)


@pytest.fixture
def running(tiny_comic: Path) -> Iterator[Running]:
    stop = threading.Event()
    builds: queue.Queue[Rebuild] = queue.Queue()
    out: list[str] = []
    err: list[str] = []
    watcher = Watcher(BuildRequest(path=tiny_comic, backend="none"), out=out.append,
                      err=err.append, on_build=builds.put)
    thread = threading.Thread(target=watcher.run, kwargs={"stop_event": stop}, daemon=True)
    thread.start()
    yield Running(watcher, builds, out, err)
    stop.set()
    thread.join(timeout=WAIT)
    assert not thread.is_alive()


def test_balloon_edit_rebuilds_only_its_page(running: Running, tiny_comic: Path) -> None:
    first = running.next_build()
    assert first.ok and first.number == 0
    pdf = first.result.output
    before = pdf.read_bytes()

    edit_manifest(tiny_comic, 'text = "Hello" }', 'text = "Hi" }')
    second = running.next_build()

    assert second.ok and second.changed == [tiny_comic.resolve() / "comic.toml"]
    status = {r.instance: r.status for r in second.result.engine.reports}
    assert status["page 1"] == "reused" and status["page 2"] == "ran"
    page_2 = next(r for r in second.result.engine.reports if r.instance == "page 2")
    assert page_2.reasons == ["balloon text on page 2 changed"]
    assert pdf.read_bytes() != before
    line = running.out[-1]
    assert line.startswith("rebuilt in ")
    assert "page 2 ran (balloon text on page 2 changed)" in line and "page 1" not in line


def test_author_error_is_reported_and_the_fix_rebuilds(running: Running, tiny_comic: Path) -> None:
    assert running.next_build().ok
    edit_manifest(tiny_comic, 'layout = "two-tier"\n\n  [[page.panel]]\n  art = "art/p3.png"',
                  'layout = "two-tear"\n\n  [[page.panel]]\n  art = "art/p3.png"')
    broken = running.next_build()
    assert not broken.ok
    assert any("unknown layout `two-tear`" in line for line in running.err)
    assert "did you mean" in running.err[-1]
    assert running.out[-1] == "build failed; fix the error above and save again"

    edit_manifest(tiny_comic, 'layout = "two-tear"', 'layout = "two-tier"')
    fixed = running.next_build()
    assert fixed.ok and fixed.number == 2


def test_art_saves_count_and_other_files_do_not(tiny_comic: Path) -> None:
    root = tiny_comic.resolve()
    relevant = ProjectFilter(root, root / "comic.toml").relevant
    assert relevant(root / "comic.toml")
    assert relevant(root / "art" / "p1.png") and relevant(root / "art" / "new.JPG")
    assert relevant(root / "templates" / "layouts" / "mine.toml.j2")
    for ignored in (".comicc/objects/ab/abcdef", ".comicc/diff/page-002.png", "tiny.pdf",
                    "tiny.report.html", ".comic.toml.x1y2.tmp", "comic.toml~", ".comic.toml.swp",
                    "4913", ".#comic.toml", "README.md", ".git/index"):
        assert not relevant(root / ignored), ignored
    assert not relevant(root.parent / "elsewhere.png")


def test_summary_line_groups_stages_by_reason(running: Running) -> None:
    first = running.next_build()
    assert summary_line(first.result, "built").startswith("built in ")
    assert "page 1, page 2, pdf" in running.out[0] and "(first build); 0 reused" in running.out[0]


@pytest.fixture
def chatty_build(monkeypatch) -> None:
    """Builds that talk like a styled one: the backend and a note each time, and a line
    that differs from build to build (the warm start's changed panels)."""
    import comicc.watch

    real_build = comicc.watch.build
    count = iter(range(1000))

    def build(project, request, log=None, **kwargs):
        log("backend: gram (auto: no CLIP weights configured; using the gram backend)")
        log("note: the gram backend takes its look from the style image")
        log(f"style: warm start from the last build (changed panels: {next(count)})")
        return real_build(project, request, log=log, **kwargs)

    monkeypatch.setattr(comicc.watch, "build", build)


def test_one_line_per_rebuild_after_the_first(chatty_build: None, running: Running,
                                              tiny_comic: Path) -> None:
    assert running.next_build().ok
    assert running.err.count("note: the gram backend takes its look from the style image") == 1
    assert any(line.startswith("backend: gram") for line in running.err)
    setup = len(running.err)
    last = "Hello"
    for text in ("Hi", "Hey", "Ho"):
        edit_manifest(tiny_comic, f'text = "{last}" }}', f'text = "{text}" }}')
        last = text
        assert running.next_build().ok
    assert running.err[setup:] == []
    assert running.out[0].startswith("built in ") and running.out[1].startswith("watching ")
    rebuilds = running.out[2:]
    assert len(rebuilds) == 3 and all(line.startswith("rebuilt in ") for line in rebuilds)


def _start_cli(*args: str) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "comicc", "watch", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_from_a_terminal)


def _as_from_a_terminal() -> None:
    """Start the watcher as a shell in a terminal would: Ctrl-C and SIGTERM neither ignored
    nor blocked, whatever the test process inherited or earlier tests left behind."""
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def _wait_for_line(process: subprocess.Popen[str], start: str) -> str:
    """The first stdout line starting with `start`, or an AssertionError after WAIT seconds.

    A reader thread does the blocking readline(): a silent, hung watcher still reaches the
    deadline. The thread stops at that line (or at EOF), so stdout is free for communicate()."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            lines.put(line)
            if line.startswith(start):
                return
        lines.put("")  # EOF

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + WAIT
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line.startswith(start):
            reader.join()
            return line
        if not line:
            break
        seen.append(line)
    process.kill()
    _, err = process.communicate()
    reader.join()
    raise AssertionError(f"no line starting {start!r}; stdout: {seen}; stderr: {err}")


def test_ctrl_c_stops_cleanly(tiny_comic: Path) -> None:
    process = _start_cli(str(tiny_comic), "--backend", "none", "-q")
    _wait_for_line(process, "watching ")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=WAIT)
    assert process.returncode in (0, 130)
    assert "Traceback" not in err
    assert "stopped watching" in err


def test_cli_stops_after_max_rebuilds(tiny_comic: Path) -> None:
    process = _start_cli(str(tiny_comic), "--backend", "none", "-q", "--max-rebuilds", "1")
    _wait_for_line(process, "watching ")
    edit_manifest(tiny_comic, "Good morning.", "Good evening.")
    out, err = process.communicate(timeout=WAIT)
    assert process.returncode == 0, err
    assert "page 1 ran (balloon text on page 1 changed)" in out


def test_wait_for_line_gives_up_on_a_silent_process(monkeypatch) -> None:
    """A hung watcher prints nothing: the helper must still reach its deadline, not block."""
    monkeypatch.setattr(sys.modules[__name__], "WAIT", 0.5)
    silent = subprocess.Popen([sys.executable, "-c", "import time; print('hello', flush=True); "
                               "time.sleep(120)"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    with pytest.raises(AssertionError, match="no line starting 'watching '.*hello"):
        _wait_for_line(silent, "watching ")
    assert silent.returncode is not None  # killed, not left running
