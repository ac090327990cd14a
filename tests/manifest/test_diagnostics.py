"""Malformed manifests: each gets exit code 2, file:line:col, the key path and a useful message.

In each case `¦` marks where the author would expect the error to point; the test removes
it, writes the manifest and checks the reported line and column against it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from comicc.cli import main
from tests.conftest import BASE_MANIFEST, write_project


def _edit(old: str, new: str) -> str:
    assert old in BASE_MANIFEST, old
    return BASE_MANIFEST.replace(old, new, 1)


# (id, manifest with ¦ at the expected position, key path, words the message must contain)
CASES = [
    ("toml-unclosed-string", _edit('title = "Test Comic"', 'title = "Test Comic¦\n'),
     None, ["TOML syntax"]),
    ("toml-duplicate-table", _edit("[build]", "[build]\nseed = 1\n[¦build]"), "build",
     ["duplicate table `[build]`", "already defined on line 7"]),
    ("toml-duplicate-key", _edit('title = "Test Comic"', 'title = "Test Comic"\n¦title = "B"'),
     "comic.title", ["duplicate key `comic.title`", "first defined on line 2"]),
    ("toml-bare-word-value", _edit('direction = "ink wash"', "direction = ¦ink wash"), None,
     ["TOML syntax"]),
    ("unknown-top-key", BASE_MANIFEST + "\n[¦pages]\nx = 1\n", "pages", ["unknown key", "page"]),
    ("unknown-comic-key", _edit('authors = ["A. Author"]', 'authors = ["A. Author"]\n¦titel = "x"'),
     "comic.titel", ["unknown key `titel`", 'did you mean "title"']),
    ("unknown-panel-key", _edit('  direction = "stormy night"', '  ¦directon = "stormy night"'),
     "page[1].panel[1].directon", ["unknown key", 'did you mean "direction"']),
    ("wrong-type-dpi", _edit('direction = "ink wash"', 'direction = "ink wash"\ndpi = ¦"300"'),
     "comic.dpi", ["whole number", "string"]),
    ("wrong-type-elements", _edit('elements = ["tower"]', "elements = ¦\"tower\""),
     "page[1].panel[2].elements", ["array"]),
    ("wrong-type-balloon-text", _edit('text = "KRAKOOM"', "text = ¦42"),
     "page[1].panel[2].balloons[1].text", ["string"]),
    ("bad-enum-backend", _edit('backend = "none"', 'backend = ¦"gramm"'), "build.backend",
     ['did you mean "gram"']),
    ("bad-length-bleed", _edit('direction = "ink wash"', 'direction = "ink wash"\nbleed = ¦"3 inch"'),
     "comic.bleed", ["length"]),
    ("absurd-dpi", _edit('direction = "ink wash"', 'direction = "ink wash"\ndpi = ¦1000000'),
     "comic.dpi", ["1200"]),
    ("missing-required-art", _edit('  [[page.panel]]\n  art = "art/p2.png"\n', "  [[page.¦panel]]\n"),
     "page[1].panel[2]",
     ["missing", "`art`"]),
    ("unknown-element", _edit('elements = ["mara", "tower"]', 'elements = ["mara", ¦"towr"]'),
     "page[1].panel[1].elements[1]", ["unknown element `towr`", 'did you mean "tower"']),
    ("unknown-speaker", _edit('{ speaker = "mara"', '{ speaker = ¦"mora"'),
     "page[1].panel[1].balloons[1].speaker", ["unknown speaker", 'did you mean "mara"']),
    ("missing-art-file", _edit('art = "art/p2.png"', 'art = ¦"art/p3.png"'),
     "page[1].panel[2].art", ["not found", "p3.png"]),
    ("path-escape", _edit('references = ["art/mara.png"]', 'references = [¦"../mara.png"]'),
     "elements.mara.references[0]", ["outside the project"]),
    ("absolute-path", _edit('style_image = "art/style.png"', 'style_image = ¦"/etc/hosts"'),
     "comic.style_image", ["absolute path"]),
    ("unknown-layout", _edit('layout = "grid-2x2"', 'layout = ¦"grid-2x3"'), "page[1].layout",
     ["unknown layout", "did you mean"]),
    ("too-many-panels", _edit('layout = "grid-2x2"', 'layout = "splash"').replace(
        '  [[page.panel]]\n  art = "art/p2.png"', '  [[page.¦panel]]\n  art = "art/p2.png"'),
     "page[1].panel[2]", ["2 panels", "splash"]),
    ("empty-references", _edit('references = ["art/tower.png"]', "references = ¦[]"),
     "elements.tower.references", ["at least 1"]),
    ("region-outside-art", _edit('  direction = "stormy night"',
                                 '  direction = "stormy night"\n  regions = { mara = ¦[0.5, 0.5, 0.8, 0.2] }'),
     "page[1].panel[1].regions.mara", ["outside the art"]),
    ("caption-with-speaker", _edit('{ kind = "caption", text', '¦{ kind = "caption", speaker = "mara", text'),
     "page[1].panel[1].balloons[2]", ["caption has no speaker"]),
    ("bad-element-id", _edit("[elements.tower]", '[elements.¦"the tower"]').replace(
        '["mara", "tower"]', '["mara"]').replace('elements = ["tower"]', "elements = []"),
     "elements.the tower", ["not a valid element id", "the_tower"]),
]


def _position(marked: str) -> tuple[str, int, int]:
    index = marked.index("¦")
    before = marked[:index]
    line = before.count("\n") + 1
    column = index - (before.rfind("\n") + 1) + 1
    return marked.replace("¦", "", 1), line, column


@pytest.mark.parametrize("case_id, marked, key_path, words", CASES, ids=[c[0] for c in CASES])
def test_malformed_manifest(tmp_path: Path, capsys, case_id, marked, key_path, words) -> None:
    text, line, column = _position(marked)
    write_project(tmp_path, text)
    code = main(["check", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"comic.toml:{line}:{column}:" in err, err
    if key_path is not None:
        assert f"at {key_path}\n" in err + "\n", err
    for word in words:
        assert word in err, err
    assert "Traceback" not in err


def test_valid_manifest_passes(project: Path, capsys) -> None:
    assert main(["check", str(project)]) == 0
    assert "ok" in capsys.readouterr().out


def test_all_errors_reported_in_one_run(tmp_path: Path, capsys) -> None:
    text = _edit('elements = ["mara", "tower"]', 'elements = ["mara", "towr"]')
    text = text.replace('{ speaker = "mara"', '{ speaker = "mora"').replace("p2.png", "p9.png")
    write_project(tmp_path, text)
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown element `towr`" in err
    assert "unknown speaker `mora`" in err
    assert "p9.png` not found" in err
    assert "3 error(s)" in err


def test_unused_element_is_a_warning(tmp_path: Path, capsys) -> None:
    gull = '[elements.gull]\nkind = "prop"\nreferences = ["art/mara.png"]\n\n'
    write_project(tmp_path, BASE_MANIFEST.replace("[[page]]", gull + "[[page]]", 1))
    assert main(["check", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "warning[unused-element]: element `gull` appears in no panel" in err


def test_symlink_escape_is_refused(tmp_path: Path, capsys) -> None:
    outside = tmp_path / "outside"
    project = tmp_path / "comic"
    write_project(project)
    write_project(outside)
    (project / "art/p2.png").unlink()
    (project / "art/p2.png").symlink_to(outside / "art/p2.png")
    assert main(["check", str(project)]) == 2
    err = capsys.readouterr().err
    assert "through a symbolic link outside the project" in err


def test_missing_manifest(tmp_path: Path, capsys) -> None:
    assert main(["check", str(tmp_path)]) == 2
    assert "no comic.toml found" in capsys.readouterr().err


def test_unknown_style_name_gets_did_you_mean(tmp_path: Path, capsys) -> None:
    text, line, column = _position(_edit('direction = "ink wash"',
                                         'direction = "ink wash"\nstyle = ¦"starry-nite"'))
    write_project(tmp_path, text)
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"comic.toml:{line}:{column}:" in err
    assert "unknown style `starry-nite`" in err and 'did you mean "starry-night"' in err


def test_style_mix_checks_each_name(tmp_path: Path, capsys) -> None:
    text = _edit('  direction = "stormy night"',
                 '  direction = "stormy night"\n  style = { mosaic = 0.5, "99" = 0.5 }')
    write_project(tmp_path, text)
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "style index 99 is out of range" in err
    assert "at page[1].panel[1].style.99" in err


@pytest.mark.parametrize("text", ["a = [1, 2", "a = [", "a = {x = 1", "x = [[[", "a = [1 2 3]"])
def test_the_duplicate_finder_stops_on_text_that_is_not_toml(text: str) -> None:
    from comicc.manifest.positions import find_duplicates

    assert find_duplicates(text) == []  # returns at all: it once looped, growing, forever
