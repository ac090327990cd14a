"""`comicc diff`: two revisions built with the working copy's cache, compared in words and
pictures."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from comicc.cli import main
from comicc.engine.pipeline import build
from comicc.engine.request import BuildRequest
from comicc.git.diff import diff_revisions, split_arguments
from comicc.git.visual import GAP, HEADER, OUTLINE
from comicc.manifest.diagnostics import AuthorError
from comicc.manifest.load import load_project
from tests.git.conftest import draw_art, edit_manifest, git, write_tiny_comic

FAST = BuildRequest(backend="none")


def outline_pixels(image: Image.Image) -> np.ndarray:
    return np.all(np.asarray(image.convert("RGB")) == OUTLINE, axis=2)


def test_names_exactly_the_changed_balloon_and_pictures_only_its_page(comic_repo: Path,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "diff"
    result = diff_revisions(comic_repo, "HEAD~1", "HEAD", out, FAST)

    assert [c.line() for c in result.changes] == [
        'page 2: balloon 1 in panel 2.1 text changed: "Hello" -> "Hi"']
    assert [(p.number, p.status) for p in result.pages] == [(2, "changed")]
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "page-002.png"]

    old_pages, new_pages = result.renders
    width, height = old_pages[1].size
    picture = Image.open(out / "page-002.png").convert("RGB")
    assert picture.size == (2 * width + GAP, HEADER + height)
    left = picture.crop((0, HEADER, width, HEADER + height))
    right = picture.crop((width + GAP, HEADER, 2 * width + GAP, HEADER + height))
    # The outline colour is nowhere on the pages themselves, only where the diff drew it ...
    assert not any(outline_pixels(page).any() for page in old_pages + new_pages)
    marks_left, marks_right = outline_pixels(left), outline_pixels(right)
    assert marks_left.any()
    # ... at the same place on both halves, and each half is its revision's page elsewhere.
    assert np.array_equal(marks_left, marks_right)
    assert np.array_equal(np.asarray(left)[~marks_left], np.asarray(old_pages[1])[~marks_left])
    assert np.array_equal(np.asarray(right)[~marks_right], np.asarray(new_pages[1])[~marks_right])
    # The outline sits around the changed balloon: in the upper tier, not the lower one.
    rows = np.nonzero(marks_left.any(axis=1))[0]
    assert rows.max() < height / 2

    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'src="page-002.png"' in index and "text changed" in index


def test_working_tree_is_the_default_and_uses_the_working_cache(comic_repo: Path) -> None:
    build(load_project(comic_repo), FAST)  # the author's last build fills the cache
    draw_art(comic_repo / "art/p2.png", "darkred", shape="tower")  # not committed

    result = diff_revisions(comic_repo, request=FAST)

    assert result.new.commit is None and result.new.label == "working tree"
    assert [c.line() for c in result.changes] == ["page 1: panel 1.2 art art/p2.png redrawn"]
    assert [p.number for p in result.pages] == [1]
    head, worktree = result.reports
    reused = {r.instance for r in head if r.status == "reused"}
    assert {"page 1", "page 2"} <= reused  # HEAD's pages came from the working copy's cache
    # Same art size, so only the book itself is redrawn for the working tree.
    assert [r.instance for r in worktree if r.status == "ran"] == ["pdf"]
    assert (comic_repo / ".comicc" / "diff" / "page-001.png").is_file()
    assert not (comic_repo / ".comicc" / "diff" / "page-002.png").exists()
    assert git(comic_repo, "status", "--porcelain") == " M books/tiny/art/p2.png\n"


def test_cli_prints_changes_and_replaces_stale_pictures(comic_repo: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "page-001.png").write_bytes(b"from an earlier diff")
    (out / "keep.txt").write_text("the author's own file")

    code = main(["diff", "HEAD~1", "HEAD", str(comic_repo), "-o", str(out), "--backend", "none",
                 "-q"])

    printed = capsys.readouterr().out
    assert code == 0
    assert 'page 2: balloon 1 in panel 2.1 text changed: "Hello" -> "Hi"' in printed
    assert re.search(r"page 2 changed \(1 area\): .*page-002\.png", printed)
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "keep.txt", "page-002.png"]


def test_identical_revisions_have_no_differences(comic_repo: Path, tmp_path: Path) -> None:
    result = diff_revisions(comic_repo, "HEAD", "main", tmp_path / "d", FAST)
    assert result.identical and result.pages == [] and result.changes == []
    assert "No differences" in result.index.read_text(encoding="utf-8")


def test_added_page_is_pictured_against_an_empty_sheet(comic_repo: Path, tmp_path: Path) -> None:
    text = (comic_repo / "comic.toml").read_text(encoding="utf-8")
    (comic_repo / "comic.toml").write_text(
        text + '\n[[page]]\nlayout = "splash"\n  [[page.panel]]\n  art = "art/p4.png"\n',
        encoding="utf-8")
    result = diff_revisions(comic_repo, out_dir=tmp_path / "d", request=FAST)
    assert [c.line() for c in result.changes] == ["page 3: added (1 panel)"]
    assert [(p.number, p.status) for p in result.pages] == [(3, "added")]


def test_not_a_repository_is_an_author_error(tiny_comic: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(tiny_comic), "--backend", "none"]) == 2
    assert "not in a git repository" in capsys.readouterr().err


def test_unknown_revision_is_an_author_error(comic_repo: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "no-such-branch", str(comic_repo), "--backend", "none"]) == 2
    assert "unknown revision `no-such-branch`" in capsys.readouterr().err
    assert main(["diff", "--backend", "none", "--", "--output=x", str(comic_repo)]) == 2


def test_revision_without_the_comic_is_an_author_error(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "NOTES.md").write_text("before the comic\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "notes")
    root = write_tiny_comic(repo / "comic")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "the comic")
    with pytest.raises(AuthorError, match="does not exist in HEAD~1"):
        diff_revisions(root, "HEAD~1", request=FAST)


def test_broken_old_revision_names_the_file_as_git_does(comic_repo: Path) -> None:
    edit_manifest(comic_repo, 'layout = "two-tier"\n\n  [[page.panel]]\n  art = "art/p3.png"',
                  'layout = "two-tear"\n\n  [[page.panel]]\n  art = "art/p3.png"')
    git(comic_repo, "commit", "-q", "-am", "typo")
    with pytest.raises(AuthorError) as raised:
        diff_revisions(comic_repo, "HEAD", request=FAST)
    assert str(raised.value.diagnostics[0].file) == "HEAD:books/tiny/comic.toml"


def test_arguments_split_into_revisions_and_path(tiny_comic: Path) -> None:
    assert split_arguments([]) == ("HEAD", None, ".")
    assert split_arguments(["v1"]) == ("v1", None, ".")
    assert split_arguments([str(tiny_comic)]) == ("HEAD", None, str(tiny_comic))
    assert split_arguments(["v1", str(tiny_comic)]) == ("v1", None, str(tiny_comic))
    assert split_arguments(["v1", "v2"]) == ("v1", "v2", ".")
    assert split_arguments(["v1", "v2", "x"]) == ("v1", "v2", "x")
    with pytest.raises(AuthorError, match="too many arguments"):
        split_arguments(["a", "b", "c", "d"])
