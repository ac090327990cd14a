"""Changes read from two versions of a manifest: matched like a text diff, named like an author."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from comicc.git.changes import align, manifest_changes
from comicc.manifest.layouts import builtin_layout_dir
from comicc.manifest.load import load_project
from tests.git.conftest import draw_art, edit_manifest


@pytest.fixture
def versions(tiny_comic: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The tiny comic twice: `old` stays as written, `new` is edited by each test."""
    new = tmp_path / "new"
    shutil.copytree(tiny_comic, new)
    return tiny_comic, new


def lines(old: Path, new: Path) -> list[str]:
    return [c.line() for c in manifest_changes(load_project(old), load_project(new))]


def test_identical_versions_have_no_changes(versions: tuple[Path, Path]) -> None:
    assert lines(*versions) == []


def test_balloon_text_kind_and_speaker(versions: tuple[Path, Path]) -> None:
    old, new = versions
    edit_manifest(new, '{ speaker = "mara", text = "Hello" }',
                  '{ kind = "shout", text = "HELLO!" }')
    assert lines(old, new) == [
        'page 2: balloon 1 in panel 2.1 kind changed: "speech" -> "shout"',
        'page 2: balloon 1 in panel 2.1 speaker changed: "mara" -> (unset)',
        'page 2: balloon 1 in panel 2.1 text changed: "Hello" -> "HELLO!"',
    ]


def test_inserted_balloon_is_one_addition_not_a_cascade_of_edits(
        versions: tuple[Path, Path]) -> None:
    old, new = versions
    edit_manifest(new, '    { speaker = "mara", text = "Hello" },\n',
                  '    { kind = "whisper", text = "Psst." },\n'
                  '    { speaker = "mara", text = "Hello" },\n')
    assert lines(old, new) == ['page 2: balloon 1 in panel 2.1 added: whisper "Psst."']


def test_removed_balloon_is_numbered_as_it_was(versions: tuple[Path, Path]) -> None:
    old, new = versions
    edit_manifest(new, '    { kind = "caption", text = "Later that day." },\n', "")
    assert lines(old, new) == [
        'page 2: balloon 2 in panel 2.1 removed: caption "Later that day."']


def test_panel_fields_art_and_layout(versions: tuple[Path, Path]) -> None:
    old, new = versions
    draw_art(new / "art/p2.png", "orange", shape="tower")
    edit_manifest(new, 'art = "art/p1.png"\n  elements = ["mara"]',
                  'art = "art/p1.png"\n  elements = []\n  direction = "dusk"')
    edit_manifest(new, 'layout = "two-tier"\n\n  [[page.panel]]\n  art = "art/p3.png"',
                  'layout = "splash"\n\n  [[page.panel]]\n  art = "art/p3.png"')
    edit_manifest(new, '  [[page.panel]]\n  art = "art/p4.png"\n', "")
    assert lines(old, new) == [
        "page 1: panel 1.1 elements changed: -mara",
        'page 1: panel 1.1 direction changed: "" -> "dusk"',
        "page 1: panel 1.2 art art/p2.png redrawn",
        'page 2: layout changed: "two-tier" -> "splash"',
        "page 2: panel 2.2 removed (art/p4.png)",
    ]


def test_book_and_element_changes(versions: tuple[Path, Path]) -> None:
    old, new = versions
    draw_art(new / "art/mara.png", "pink", shape="figure")
    edit_manifest(new, 'title = "Two Pages"', 'title = "Two Pages, Revised"')
    edit_manifest(new, 'backend = "none"', 'backend = "gram"')
    assert lines(old, new) == [
        '[comic] title changed: "Two Pages" -> "Two Pages, Revised"',
        '[build] backend changed: "none" -> "gram"',
        "element mara reference art/mara.png redrawn",
    ]


def test_pages_added_and_project_template_edited(versions: tuple[Path, Path]) -> None:
    old, new = versions
    with (new / "comic.toml").open("a", encoding="utf-8") as manifest:
        manifest.write('\n[[page]]\nlayout = "two-tier"\n  [[page.panel]]\n  art = "art/p1.png"\n')
    template = (builtin_layout_dir() / "two-tier.toml.j2").read_text(encoding="utf-8")
    for version, extra in ((old, ""), (new, "\n{# tweaked #}\n")):
        (version / "templates/layouts").mkdir(parents=True)
        (version / "templates/layouts/two-tier.toml.j2").write_text(template + extra)
    assert lines(old, new) == [
        "page 1: layout template two-tier changed",
        "page 2: layout template two-tier changed",
        "page 3: added (1 panel)",
    ]


def test_align_pairs_like_a_text_diff() -> None:
    assert align("abc", "abc", key=str) == [(0, 0), (1, 1), (2, 2)]
    assert align("abc", "axc", key=str) == [(0, 0), (1, 1), (2, 2)]
    assert align("abc", "abxc", key=str) == [(0, 0), (1, 1), (None, 2), (2, 3)]
    assert align("abc", "ac", key=str) == [(0, 0), (1, None), (2, 1)]
    assert align("", "ab", key=str) == [(None, 0), (None, 1)]
