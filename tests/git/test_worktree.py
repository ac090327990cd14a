"""A comic kept in git stays clean: builds and diffs write nothing git would want to track."""

from __future__ import annotations

from pathlib import Path

import pytest

from comicc.cli import main
from tests.git.conftest import git


@pytest.fixture
def started(tmp_path: Path) -> Path:
    """`comicc init` inside a fresh repository, committed; returns the comic's folder."""
    git(tmp_path, "init", "-q")
    assert main(["init", str(tmp_path / "book")]) == 0
    written = {p.name for p in (tmp_path / "book").iterdir()}
    assert {"README.md", ".gitignore", "comic.toml"} <= written
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "comicc init")
    return tmp_path / "book"


def test_cache_pdf_cbz_and_diff_pictures_are_ignored(started: Path) -> None:
    assert main(["build", str(started), "--backend", "none", "--no-report", "-q"]) == 0
    assert main(["build", str(started), "--backend", "none", "--no-report", "-q",
                 "-o", str(started / "book.cbz")]) == 0
    assert main(["diff", str(started), "--backend", "none", "-q"]) == 0
    assert (started / ".comicc" / "diff" / "index.html").is_file()
    assert git(started, "status", "--porcelain") == ""


def test_build_report_is_ignored(started: Path) -> None:
    assert main(["build", str(started), "--backend", "none", "-q"]) == 0
    assert git(started, "status", "--porcelain") == ""
