"""Shared fixtures: small comic projects written into a temporary folder."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

BASE_MANIFEST = """\
[comic]
title = "Test Comic"
authors = ["A. Author"]
direction = "ink wash"
style_image = "art/style.png"

[build]
backend = "none"

[elements.mara]
kind = "character"
references = ["art/mara.png"]

[elements.tower]
kind = "setting"
references = ["art/tower.png"]

[[page]]
layout = "grid-2x2"

  [[page.panel]]
  art = "art/p1.png"
  elements = ["mara", "tower"]
  direction = "stormy night"
  balloons = [
    { speaker = "mara", text = "Is anyone up there?" },
    { kind = "caption", text = "Ninety miles from shore." },
  ]

  [[page.panel]]
  art = "art/p2.png"
  elements = ["tower"]
  balloons = [{ kind = "sfx", text = "KRAKOOM" }]
"""


def draw_art(path: Path, colour: str, size: tuple[int, int] = (120, 90), shape: str = "") -> None:
    """A tiny deterministic drawing: a coloured field with an optional shape."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    if shape == "figure":
        draw.ellipse((40, 10, 70, 40), fill="orange")
        draw.rectangle((45, 40, 65, 85), fill="yellow")
    elif shape == "tower":
        draw.rectangle((50, 5, 70, 85), fill="white")
        draw.rectangle((50, 30, 70, 45), fill="red")
    image.save(path)


def write_project(root: Path, manifest: str = BASE_MANIFEST) -> Path:
    """Write a comic project (art + manifest) into `root` and return the manifest path."""
    draw_art(root / "art/style.png", "teal")
    draw_art(root / "art/mara.png", "skyblue", shape="figure")
    draw_art(root / "art/tower.png", "navy", shape="tower")
    draw_art(root / "art/p1.png", "grey", shape="figure")
    draw_art(root / "art/p2.png", "darkblue", shape="tower")
    path = root / "comic.toml"
    path.write_text(manifest, encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A valid two-panel project; returns its folder."""
    write_project(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def _unblocked_signals() -> Iterator[None]:
    """An in-process CLI run ends in `interrupts.exit_now`, which blocks SIGINT and SIGTERM
    for the rest of the process (there, the program's end). In the test process the mask
    would outlive the test and be inherited by every process a later test starts, so a
    watcher sent Ctrl-C would never see it: each test ends with the signals unblocked."""
    yield
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
