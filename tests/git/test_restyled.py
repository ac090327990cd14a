"""The ML path: a restyled book is reproducible, and `comicc diff` reuses its styled panels.

One tiny restyled build (classifiers, then a U-Net for 2 steps at 64 px, on CPU) takes
a minute or more on a small machine, so these are slow tests sharing two builds.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from comicc.engine.pipeline import BuildResult, build
from comicc.engine.request import BuildRequest
from comicc.git.diff import diff_revisions
from comicc.manifest.load import load_project
from comicc.starter import write_starter_comic
from tests.git.conftest import edit_manifest, git

pytestmark = pytest.mark.slow

RESTYLE = BuildRequest(backend="gram", stylenet="unet", steps=2, device="cpu", report=False,
                       quiet=True)


@dataclass
class Restyled:
    folders: list[Path]
    results: list[BuildResult]


@pytest.fixture(scope="module")
def restyled(tmp_path_factory: pytest.TempPathFactory) -> Restyled:
    """The starter comic (at 64 px) copied into two folders and restyled in each."""
    base = tmp_path_factory.mktemp("restyled")
    source = base / "source"
    source.mkdir()
    write_starter_comic(source, "Tiny")
    edit_manifest(source, "seed = 1", "seed = 1\nsize = 64")
    folders, results = [], []
    for name in ("first", "second-copy"):
        folder = base / name / "comic"
        shutil.copytree(source, folder)
        folders.append(folder)
        results.append(build(load_project(folder), RESTYLE))
    return Restyled(folders, results)


def test_restyled_book_is_byte_identical_across_folders(restyled: Restyled) -> None:
    ran = [{r.instance for r in result.engine.reports if r.status == "ran"}
           for result in restyled.results]
    assert ran[0] >= {"classify", "style"} and ran[1] >= {"classify", "style"}
    first, second = (result.output.read_bytes() for result in restyled.results)
    assert first == second


def test_diff_of_a_balloon_edit_reuses_the_styled_panels(restyled: Restyled,
                                                         tmp_path: Path) -> None:
    root = restyled.folders[0]
    git(root, "init", "-q")
    git(root, "add", "comic.toml", "art", ".gitignore")
    git(root, "commit", "-q", "-m", "tiny restyled comic")
    edit_manifest(root, "Hello? Is anybody home?", "Hello? Anybody?")

    result = diff_revisions(root, out_dir=tmp_path / "diff", request=RESTYLE)

    assert [c.line() for c in result.changes] == [
        'page 1: balloon 1 in panel 1.2 text changed: "Hello? Is anybody home?" -> '
        '"Hello? Anybody?"']
    assert [p.number for p in result.pages] == [1]
    head, worktree = ({r.instance: r.status for r in side} for side in result.reports)
    # Both sides' classifiers and styled panels come from the working copy's cache.
    assert head["classify"] == head["style"] == "reused"
    assert worktree["classify"] == worktree["style"] == "reused"
    assert worktree["page 1"] == "ran"
