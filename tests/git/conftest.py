"""A tiny two-page comic, and a git repository holding it in a subfolder with two commits."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import draw_art

TINY_MANIFEST = """\
[comic]
title = "Two Pages"
authors = ["A. Author"]
dpi = 72

[build]
backend = "none"

[elements.mara]
kind = "character"
references = ["art/mara.png"]

[[page]]
layout = "two-tier"

  [[page.panel]]
  art = "art/p1.png"
  elements = ["mara"]
  balloons = [{ speaker = "mara", text = "Good morning." }]

  [[page.panel]]
  art = "art/p2.png"
  balloons = [{ kind = "caption", text = "Meanwhile, at the docks." }]

[[page]]
layout = "two-tier"

  [[page.panel]]
  art = "art/p3.png"
  elements = ["mara"]
  balloons = [
    { speaker = "mara", text = "Hello" },
    { kind = "caption", text = "Later that day." },
  ]

  [[page.panel]]
  art = "art/p4.png"
"""

# git must not read the developer's settings (signing, hooks) nor an outer repository's.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}


def write_tiny_comic(root: Path) -> Path:
    """Write the two-page comic into `root`; returns `root`."""
    draw_art(root / "art/mara.png", "skyblue", shape="figure")
    draw_art(root / "art/p1.png", "grey", shape="figure")
    draw_art(root / "art/p2.png", "darkblue", shape="tower")
    draw_art(root / "art/p3.png", "olive", shape="figure")
    draw_art(root / "art/p4.png", "teal", shape="tower")
    (root / "comic.toml").write_text(TINY_MANIFEST, encoding="utf-8")
    (root / ".gitignore").write_text(".comicc/\n*.pdf\n*.cbz\n*.report.*\n", encoding="utf-8")
    return root


def edit_manifest(root: Path, old: str, new: str) -> None:
    """Replace `old` (which must occur exactly once) in the comic's manifest."""
    path = root / "comic.toml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    path.write_text(text.replace(old, new), encoding="utf-8")


def git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")} | GIT_ENV
    done = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null",
                           *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def tiny_comic(tmp_path: Path) -> Path:
    """The two-page comic in a fresh folder (not under git)."""
    return write_tiny_comic(tmp_path / "tiny")


@pytest.fixture
def comic_repo(tmp_path: Path) -> Path:
    """A repository with the comic in `books/tiny/` and two commits: the second changes only
    the text of balloon 1 in panel 2.1 ("Hello" -> "Hi"). Returns the comic's folder."""
    repo = tmp_path / "repo"
    root = write_tiny_comic(repo / "books" / "tiny")
    (repo / "NOTES.md").write_text("not part of the comic\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first draft")
    edit_manifest(root, 'text = "Hello" }', 'text = "Hi" }')
    git(repo, "commit", "-q", "-am", "shorter greeting")
    return root
