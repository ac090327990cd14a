"""Faults in the ML stages: Ctrl-C / SIGTERM while styling, hostile CLIP checkpoints in a build.

One tiny project (one element, one panel, 32 px) is built once; each test copies it with its
warm cache, so the classifiers are reused and only the stage under test runs.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from comicc.cli import main
from tests.conftest import draw_art
from tests.hostile.conftest import (
    assert_cache_consistent,
    comicc_process,
    line_of,
    temporaries,
)

pytestmark = pytest.mark.slow

PROMPT = 2.0  # seconds from an interrupt to the process's exit

TINY = """\
[comic]
title = "Tiny"
direction = "ink wash"
style_image = "art/style.png"

[build]
backend = "gram"
size = 32

[elements.mara]
kind = "character"
references = ["art/mara.png"]

[[page]]
layout = "splash"

  [[page.panel]]
  art = "art/p1.png"
  elements = ["mara"]
"""


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny project after one finished one-step build (classifiers in the cache)."""
    root = tmp_path_factory.mktemp("warm") / "tiny"
    draw_art(root / "art/style.png", "teal")
    draw_art(root / "art/mara.png", "skyblue", shape="figure")
    draw_art(root / "art/p1.png", "grey", shape="figure")
    (root / "comic.toml").write_text(TINY, encoding="utf-8")
    assert main(["build", str(root), "--preset", "draft", "--steps", "1", "--no-report",
                 "-q"]) == 0
    return root


def _copy(warm: Path, tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    shutil.copytree(warm, root, symlinks=True)
    return root


def _interrupt_while_styling(root: Path, signum: int) -> str:
    """Start a long style run, send `signum` once it is styling; returns its stderr."""
    process = comicc_process("build", root, "--preset", "draft", "--steps", "200",
                             "--no-report")
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # wait until it is styling
        seen.append(line)
        if line.startswith("style:"):
            break
    assert seen and seen[-1].startswith("style:"), "".join(seen)
    time.sleep(0.5)
    started = time.monotonic()
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert time.monotonic() - started < PROMPT, "comicc must stop promptly"
    assert process.returncode == 130, "".join(seen) + err
    return "".join(seen) + err


def test_sigint_and_sigterm_while_styling_stop_promptly_and_keep_the_classifiers(
        warm, tmp_path, capsys) -> None:
    root = _copy(warm, tmp_path)
    book = root / "tiny.pdf"
    old = book.read_bytes()
    for signum in (signal.SIGINT, signal.SIGTERM):
        err = _interrupt_while_styling(root, signum)
        assert "comicc: interrupted; the cache is consistent, rerun to resume" in err
        assert "Traceback" not in err, err
        assert book.read_bytes() == old
        assert not temporaries(root), temporaries(root)
        assert_cache_consistent(root)

    # The next build finds everything the interrupted ones did not touch: no stage reruns.
    assert main(["build", str(root), "--preset", "draft", "--steps", "1", "--no-report",
                 "--explain"]) == 0
    out = capsys.readouterr().out
    assert "classify         reused" in out, out
    assert "style            reused" in out, out
    assert book.read_bytes() == old


@dataclass
class Stop:
    """One build interrupted at one moment: what it said and how it ended."""

    moment: str
    code: int
    latency: float | None  # seconds from the signal to the exit; None: it ended first
    err: str


def _stop_at(root: Path, anchor: str | None, delay: float, *argv: str) -> Stop:
    """Build `root`; send SIGINT `delay` s after `anchor` and measure how long the process
    takes to exit. anchor: None (the start), "lock" (the build has taken the cache's lock:
    the command line is imported, torch not yet), "styled" (the style stage has stored its
    entry: pages are planned and the PDF written next) or the start of a line on stderr."""
    err_path = root.parent / f"err-{time.monotonic_ns()}.txt"
    lock = root / ".comicc" / "lock"
    lock.unlink(missing_ok=True)
    styled = root / ".comicc" / "entries" / "style"
    entries = len(list(styled.glob("*.json")))

    def reached() -> bool:
        if anchor == "lock":
            return lock.exists()
        if anchor == "styled":
            return len(list(styled.glob("*.json"))) > entries
        return any(line.startswith(str(anchor)) for line in err_path.read_text().splitlines())

    with open(err_path, "w") as err_file:
        process = comicc_process("build", root, "--no-report", *argv, stdout=subprocess.DEVNULL,
                                 stderr=err_file)
        seen = time.monotonic() if anchor is None else None
        while seen is None and process.poll() is None:
            if reached():
                seen = time.monotonic()
            time.sleep(0.005)
        latency = None
        if seen is not None:
            time.sleep(max(0.0, seen + delay - time.monotonic()))
            if process.poll() is None:
                sent = time.monotonic()
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)
                latency = time.monotonic() - sent
        process.wait(timeout=600)
    return Stop(f"{anchor or 'start'} + {delay:.2f}s", process.returncode, latency,
                err_path.read_text())


def _assert_stopped_cleanly(stop: Stop, root: Path, book: Path, old: bytes | None) -> bytes | None:
    """Check one interrupted build; returns the book as it is now."""
    now = book.read_bytes() if book.exists() else None
    if stop.latency is None or stop.code == 0:  # it finished before (or as) the signal came
        assert stop.code == 0 and "Traceback" not in stop.err, stop
        assert now is not None and now.startswith(b"%PDF-1"), stop.moment
        assert stop.latency is None or stop.latency < PROMPT, stop
    elif stop.moment.startswith("start") and stop.code != 130:
        # Python itself was still starting, comicc's code not yet running: it dies of the
        # signal (a shell says 130 too) or, inside its site import, says so and exits 1.
        assert stop.code in (-signal.SIGINT, 1) and "/comicc/" not in stop.err, stop
    else:
        assert "Traceback" not in stop.err and "Exception ignored" not in stop.err, stop
        assert stop.code == 130, stop
        assert stop.latency < PROMPT, f"{stop.moment}: stopped after {stop.latency:.2f}s"
        # The old book, or (the signal came as the build was recording itself) the whole new
        # one, and then the message says so: never half of one.
        if f"comicc: interrupted after writing {book}; the cache is consistent" in stop.err:
            assert now is not None and now.rstrip().endswith(b"%%EOF"), stop.moment
        else:
            assert "comicc: interrupted; the cache is consistent" in stop.err, stop
            assert now == old, stop.moment
    assert not temporaries(root), (stop.moment, temporaries(root))
    assert_cache_consistent(root)
    return now


def test_sigint_at_any_moment_of_a_build_stops_within_two_seconds(warm, tmp_path, capsys) -> None:
    """Imports, backbone load, classifier training, style steps, rendering and PDF writing:
    an interrupt at each stops the build with 130 within PROMPT, and the cache stays usable."""
    cold = _copy(warm, tmp_path / "cold")
    shutil.rmtree(cold / ".comicc")
    (cold / "tiny.pdf").unlink()
    book = cold / "tiny.pdf"
    stops = [_stop_at(cold, None, delay, "--steps", "200") for delay in (0.1, 0.3, 0.6)]
    stops += [_stop_at(cold, "lock", delay, "--steps", "200") for delay in (0.0, 0.3, 0.7, 1.2)]
    stops += [_stop_at(cold, "classify:", delay, "--steps", "200")
              for delay in (0.0, 0.25, 0.75)]
    for stop in stops:
        _assert_stopped_cleanly(stop, cold, book, None)

    warmed = _copy(warm, tmp_path / "warm")  # classifiers in the cache: the style stage runs
    book = warmed / "tiny.pdf"
    old = book.read_bytes()
    styling = [_stop_at(warmed, "style:", delay, "--steps", "200")
               for delay in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)]
    for stop in styling:
        _assert_stopped_cleanly(stop, warmed, book, old)
    # A few steps, then the panels are rendered, the pages planned and the PDF written:
    # interrupt those too; the latest moments may come after the build is done.
    moments = [("style:", 0.6), ("style:", 1.2), ("style:", 1.8), ("style:", 2.5),
               ("styled", 0.0), ("styled", 0.05), ("styled", 0.1), ("styled", 0.2),
               ("styled", 0.4)]
    for steps, (anchor, delay) in enumerate(moments, start=2):  # a new style key each time
        stop = _stop_at(warmed, anchor, delay, "--steps", str(steps))
        old = _assert_stopped_cleanly(stop, warmed, book, old)
        styling.append(stop)
    assert all(s.code == 130 for s in stops[3:] + styling[:6]), [(s.moment, s.code) for s in stops]

    with capsys.disabled():  # shown with -s
        print("\ninterrupt latencies (s):", ", ".join(
            f"{s.moment} {s.latency:.2f}" for s in stops + styling if s.latency is not None))

    # The next builds succeed and reuse what the interrupted ones finished.
    for root in (cold, warmed):
        assert main(["build", str(root), "--steps", "1", "--no-report", "--explain", "-q"]) == 0
        out = capsys.readouterr().out
        if root == warmed:  # the classifiers and the one-step style of the first build
            assert "classify         reused" in out and "style            reused" in out, out


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _clip_project(warm: Path, tmp_path: Path, checkpoint: str) -> tuple[Path, str]:
    root = _copy(warm, tmp_path)
    manifest = TINY.replace('backend = "gram"', 'backend = "clip"\nclip_model = '
                            f'"comicc-tiny-clip"\nclip_checkpoint = "{checkpoint}"')
    (root / "comic.toml").write_text(manifest, encoding="utf-8")
    return root, manifest


def test_malicious_pickle_checkpoint_in_a_build_is_refused_unexecuted(warm, tmp_path,
                                                                      cli) -> None:
    root, manifest = _clip_project(warm, tmp_path, "weights/evil.pt")
    marker = tmp_path / "PWNED"
    (root / "weights").mkdir()
    (root / "weights/evil.pt").write_bytes(pickle.dumps({"state_dict": _Payload(marker)},
                                                        protocol=2))
    old = (root / "tiny.pdf").read_bytes()
    result = cli("build", root, "--no-report")
    assert result.code == 2, result.err
    assert not marker.exists(), "unpickling ran the payload"
    assert result.located() == [(line_of(manifest, '"weights/evil.pt"'), 19)], result.err
    assert "error[clip]: refusing to load" in result.err and "evil.pt" in result.err
    assert "at build.clip_checkpoint" in result.err
    assert (root / "tiny.pdf").read_bytes() == old
    assert_cache_consistent(root)


def test_checkpoint_of_the_wrong_architecture_names_its_keys(warm, tmp_path, cli) -> None:
    import torch
    from safetensors.torch import save_file

    root, manifest = _clip_project(warm, tmp_path, "other.safetensors")
    save_file({"visual.conv1.weight": torch.zeros(8, 3, 4, 4), "logit_scale": torch.zeros(())},
              str(root / "other.safetensors"))
    result = cli("build", root, "--no-report")
    assert result.code == 2, result.err
    assert result.located() == [(line_of(manifest, '"other.safetensors"'), 19)], result.err
    assert "does not fit the open_clip architecture comicc-tiny-clip" in result.err
    assert "wrong shape" in result.err or "missing" in result.err
    assert_cache_consistent(root)
