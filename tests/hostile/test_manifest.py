"""Broken comic.toml files: every one exits 2 with a located message and writes nothing.

The plain malformed-key cases live in tests/manifest/test_diagnostics.py; these are the
other classes: wrong types at every level, empty structures, absurd sizes, and files that
are not TOML text at all (huge, deeply nested, not UTF-8, NUL bytes, a BOM, not a file).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from tests.conftest import BASE_MANIFEST, write_project
from tests.hostile.conftest import comicc_process, edit, line_of, measure_fresh, snapshot

# (id, manifest, expected (line, column) or None for "some line", words the message must hold)
WRONG_TYPES = [
    ("comic-as-array", edit("[comic]", "[[comic]]"), (1, 3), ["expected a table", "array"]),
    ("page-as-string", 'page = "one"\n' + BASE_MANIFEST.split("[[page]]")[0], (1, 8),
     ["expected an array", "string"]),
    ("elements-as-array",
     edit("[elements.tower]", "[[elements]]", edit("[elements.mara]", "[[elements]]")),
     None, ["at elements", "expected a table"]),
    ("balloon-as-string", edit('balloons = [{ kind = "sfx", text = "KRAKOOM" }]',
                               'balloons = ["KRAKOOM"]'), None,
     ["at page[1].panel[2].balloons[1]", "expected a table", "string"]),
    ("build-as-string", 'build = "fast"\n' + edit('[build]\nbackend = "none"\n', ""), (1, 9),
     ["at build", "expected a table"]),
    ("panel-as-number", BASE_MANIFEST.split("  [[page.panel]]")[0] + "panel = 3\n", None,
     ["at page[1].panel", "expected an array", "number"]),
    ("references-as-table", edit('references = ["art/mara.png"]', "references = { a = 1 }"),
     None, ["at elements.mara.references", "expected an array"]),
    ("title-as-datetime", edit('title = "Test Comic"', "title = 1979-05-27T07:32:00Z"), (2, 9),
     ["expected a string", "datetime"]),
]

UNKNOWN_KEYS = [
    ("build", edit('backend = "none"', 'backend = "none"\nbackedn = "gram"'),
     "build.backedn", "backend"),
    ("element", edit('kind = "character"', 'kind = "character"\nrefrences = ["x.png"]'),
     "elements.mara.refrences", "references"),
    ("balloon", edit('{ kind = "sfx", text = "KRAKOOM" }', '{ kind = "sfx", txt = "KRAKOOM" }'),
     "page[1].panel[2].balloons[1].txt", "text"),
    ("page", edit('layout = "grid-2x2"', 'layout = "grid-2x2"\nlayuot = "x"'),
     "page[1].layuot", "layout"),
    ("layout-table", edit("[[page]]", '[layout]\ngutteer = "3mm"\n\n[[page]]'),
     "layout.gutteer", "gutter"),
]

ABSURD_SIZES = [
    ("bleed-negative", 'bleed = "-1in"', "comic.bleed", ["between 0in and 1in", "-1in"]),
    ("bleed-ten-inches", 'bleed = "10in"', "comic.bleed", ["between 0in and 1in", "10in"]),
    ("bleed-infinite", "bleed = inf", "comic.bleed", ["between 0in and 1in"]),
    ("dpi-zero", "dpi = 0", "comic.dpi", ["72"]),
    ("trim-zero", 'format = "custom"\ntrim = { width = 0, height = "9in" }', "comic.trim.width",
     ["trim side", "between 1in and 40in"]),
    ("trim-scientific", 'format = "custom"\ntrim = { width = "1e9in", height = "9in" }',
     "comic.trim.width", ["expected a length"]),
    ("safe-margin-huge", 'safe_margin = "9in"', "comic.safe_margin", ["safe_margin"]),
    ("seed-overflow", None, "build.seed", ["2147483647"]),
]


def _check(cli, tmp_path: Path, manifest: str):
    write_project(tmp_path, manifest)
    before = snapshot(tmp_path)
    result = cli("check", tmp_path)
    assert snapshot(tmp_path) == before, "check must not write anything"
    return result


@pytest.mark.parametrize("case, manifest, at, words", WRONG_TYPES, ids=[c[0] for c in WRONG_TYPES])
def test_wrong_types_at_every_level(cli, tmp_path, case, manifest, at, words) -> None:
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2, result.err
    assert result.located(), result.err
    if at is not None:
        assert result.located()[0] == at, result.err
    for word in words:
        assert word in result.err, result.err


@pytest.mark.parametrize("case, manifest, key_path, suggestion", UNKNOWN_KEYS,
                         ids=[c[0] for c in UNKNOWN_KEYS])
def test_unknown_keys_get_did_you_mean_at_every_level(cli, tmp_path, case, manifest, key_path,
                                                     suggestion) -> None:
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2, result.err
    bad_key = key_path.rsplit(".", 1)[1]
    assert result.located()[-1][0] == line_of(manifest, bad_key), result.err
    assert f"unknown key `{bad_key}`" in result.err
    assert f"at {key_path}\n" in result.err
    assert f'did you mean "{suggestion}"?' in result.err


@pytest.mark.parametrize("case, line, key_path, words", ABSURD_SIZES,
                         ids=[c[0] for c in ABSURD_SIZES])
def test_absurd_sizes_are_refused_at_their_value(cli, tmp_path, case, line, key_path, words) -> None:
    if line is None:
        manifest = edit('backend = "none"', 'backend = "none"\nseed = 99999999999999999999999')
        line = "seed = 9"
    else:
        manifest = edit('direction = "ink wash"', f'direction = "ink wash"\n{line}')
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2, result.err
    value_line = line_of(manifest, line.split("\n")[-1])
    assert result.located()[0][0] == value_line, result.err
    assert f"at {key_path}\n" in result.err
    for word in words:
        assert word in result.err, result.err


def test_bad_unicode_escape_points_at_the_escape(cli, tmp_path) -> None:
    manifest = edit('title = "Test Comic"', 'title = "Test \\uZZZZ Comic"')
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2
    [(line, column)] = result.located()
    assert line == 2 and 15 <= column <= 21, result.err  # somewhere in `\uZZZZ`
    assert "TOML syntax" in result.err and "hex" in result.err


def test_unclosed_multiline_string_names_the_end_of_the_file(cli, tmp_path) -> None:
    manifest = edit('direction = "ink wash"', 'direction = """ink wash')
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2
    assert result.located() == [(manifest.count("\n") + 1, 1)], result.err  # the end
    assert "TOML syntax" in result.err


def test_duplicate_element_table_names_it_and_both_lines(cli, tmp_path) -> None:
    twice = '[elements.mara]\nkind = "prop"\nreferences = ["art/mara.png"]\n\n'
    manifest = edit("[elements.tower]", twice + "[elements.tower]")
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2
    second = manifest.index("[elements.mara]", manifest.index("[elements.mara]") + 1)
    # The key that is defined twice is `mara`, at column 11 of `[elements.mara]`.
    assert result.located() == [(manifest[:second].count("\n") + 1, 11)], result.err
    assert "duplicate table `[elements.mara]`" in result.err
    assert f"already defined on line {line_of(manifest, '[elements.mara]')}" in result.err
    assert "at elements.mara" in result.err and "once" in result.err


# (id, old, new, the first definition's text, the second's, its key's column, words)
DUPLICATE_KEYS = [
    ("key", 'title = "Test Comic"', 'title = "Test Comic"\n  title = "Again"', 'title = "Test',
     'title = "Again"', 3, "duplicate key `comic.title`"),
    ("key-in-a-panel", 'elements = ["tower"]', 'elements = ["tower"]\n  elements = ["mara"]',
     'elements = ["tower"]', 'elements = ["mara"]', 3,
     "duplicate key `page[1].panel[2].elements`"),
    ("dotted-key", 'title = "Test Comic"', 'title = "Test Comic"\ntrim.width = "6in"\n'
     'trim.width = "7in"', 'trim.width = "6in"', 'trim.width = "7in"', 6,
     "duplicate key `comic.trim.width`"),
    ("inline-table-key", '{ kind = "sfx", text = "KRAKOOM" }',
     '{ kind = "sfx", text = "KRAKOOM", kind = "caption" }', 'kind = "sfx"', '"KRAKOOM", kind',
     49, "duplicate key `page[1].panel[2].balloons[1].kind`"),
    ("table", "[elements.tower]", "[build]\nseed = 2\n\n[elements.tower]", "[build]",
     "[build]\nseed = 2", 2, "duplicate table `[build]`"),
    ("key-then-table", 'backend = "none"', 'backend = "none"\nlayout = {}\n\n[build.layout]',
     "layout = {}", "[build.layout]", 8, "duplicate table `[build.layout]`"),
]


@pytest.mark.parametrize("old, new, first, second, column, words",
                         [case[1:] for case in DUPLICATE_KEYS], ids=[c[0] for c in DUPLICATE_KEYS])
def test_duplicate_key_names_its_path_and_both_definitions(cli, tmp_path, old, new, first, second,
                                                           column, words) -> None:
    manifest = edit(old, new)
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2, result.err
    # Located at the second definition's key (not at the end of its line) ...
    assert result.located() == [(line_of(manifest, second), column)], result.err
    assert "error[duplicate-key]" in result.err and words in result.err, result.err
    # ... and naming the line of the first.
    assert re.search(rf"(first|already) defined on line {line_of(manifest, first)}\b",
                     result.err), result.err


@pytest.mark.parametrize("manifest, key", [
    (BASE_MANIFEST.split("[[page]]")[0], "missing required key `page`"),
    ("page = []\n" + BASE_MANIFEST.split("[[page]]")[0], "needs at least 1 item"),
    ("", "missing required key `comic`"),
    ("# nothing but a comment\n", "missing required key `comic`"),
], ids=["no-pages", "empty-page-array", "empty-file", "only-a-comment"])
def test_empty_comic(cli, tmp_path, manifest, key) -> None:
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2
    assert key in result.err
    assert result.located(), "even a missing top-level key names a line:\n" + result.err


@pytest.mark.parametrize("tail, key", [
    ("", "missing required key `panel`"),
    ("panel = []\n", "needs at least 1 item"),
], ids=["no-panels", "empty-panel-array"])
def test_empty_page(cli, tmp_path, tail, key) -> None:
    manifest = BASE_MANIFEST.split("  [[page.panel]]")[0] + tail
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2
    assert key in result.err and "at page[1]" in result.err
    assert result.located()[0][0] == line_of(manifest, tail or "[[page]]")


def test_layout_name_cannot_reach_outside_the_template_folders(cli, tmp_path) -> None:
    (tmp_path / "secret.toml.j2").write_text("capacity = 9\n")
    manifest = edit('layout = "grid-2x2"', 'layout = "../../secret"')
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2
    assert "unknown layout `../../secret`" in result.err
    assert result.located() == [(line_of(manifest, "../../secret"), 10)]


def test_too_few_panels_for_a_layout_is_caught_by_check(cli, tmp_path) -> None:
    """nine-grid holds 7 to 9 panels; check must say so, not leave it to the build."""
    manifest = edit('layout = "grid-2x2"', 'layout = "nine-grid"')
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2, result.err
    assert "needs at least 7" in result.err and "at page[1].layout" in result.err
    assert result.located() == [(line_of(manifest, '"nine-grid"'), 10)]


@pytest.mark.parametrize("style", ["{ mosaic = nan }", "{ mosaic = 1.0, crimson = nan }",
                                   "{ mosaic = inf }"])
def test_style_weights_must_be_finite(cli, tmp_path, style) -> None:
    manifest = edit('  direction = "stormy night"', f'  direction = "stormy night"\n  style = {style}')
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2, result.err
    assert "not a finite number" in result.err


@pytest.mark.parametrize("at", ["[nan, nan]", "[50.0, -3.0]"])
def test_balloon_position_must_be_inside_the_panel(cli, tmp_path, at) -> None:
    manifest = edit('{ kind = "sfx", text = "KRAKOOM" }',
                    f'{{ kind = "sfx", text = "KRAKOOM", at = {at} }}')
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2, result.err
    assert "page[1].panel[2].balloons[1].at" in result.err


# -- files that are not TOML text -------------------------------------------------------

def test_ten_megabyte_manifest_is_refused_quickly(cli, tmp_path) -> None:
    write_project(tmp_path)
    (tmp_path / "comic.toml").write_bytes(BASE_MANIFEST.encode() + b"#" * (10 << 20))
    cpu = time.process_time()  # CPU, not wall, time: the machine may be busy
    result = cli("check", tmp_path)
    assert time.process_time() - cpu < 1.0
    assert result.code == 2
    assert "comic.toml: error[manifest]: manifest is 10" in result.err
    assert "up to 2 MiB" in result.err


@pytest.mark.parametrize("nesting", [
    "x = " + "[" * 10_000 + "]" * 10_000,
    "x = " + "{ a = " * 2_000 + "1" + " }" * 2_000,
    "x = " + "[{ a = " * 2_000 + "1" + " }]" * 2_000,
], ids=["arrays", "inline-tables", "mixed"])
def test_deep_nesting_is_refused_without_recursion_errors(cli, tmp_path, nesting) -> None:
    write_project(tmp_path, nesting + "\n" + BASE_MANIFEST)
    cpu = time.process_time()
    result = cli("check", tmp_path)
    assert time.process_time() - cpu < 2.0
    assert result.code == 2
    assert "nested" in result.err and "comic.toml" in result.err


def test_invalid_utf8_names_line_and_column(cli, tmp_path) -> None:
    write_project(tmp_path)
    data = BASE_MANIFEST.encode().replace(b"Test Comic", b"Test \xff\xfe Comic")
    (tmp_path / "comic.toml").write_bytes(data)
    result = cli("check", tmp_path)
    assert result.code == 2
    assert result.located() == [(2, 15)], result.err
    assert "not valid UTF-8" in result.err


def test_utf16_manifest_is_named_as_such(cli, tmp_path) -> None:
    write_project(tmp_path)
    (tmp_path / "comic.toml").write_bytes(BASE_MANIFEST.encode("utf-16"))
    result = cli("check", tmp_path)
    assert result.code == 2
    assert "UTF-16" in result.err and "save comic.toml as UTF-8" in result.err


def test_byte_order_mark_is_accepted_and_positions_stay_right(cli, tmp_path) -> None:
    write_project(tmp_path)
    manifest = edit('title = "Test Comic"', 'title = "Test Comic"\ntitel = "x"')
    (tmp_path / "comic.toml").write_bytes(b"\xef\xbb\xbf" + manifest.encode())
    result = cli("check", tmp_path)
    assert result.code == 2
    assert result.located() == [(3, 1)], result.err
    (tmp_path / "comic.toml").write_bytes(b"\xef\xbb\xbf" + BASE_MANIFEST.encode())
    assert cli("check", tmp_path).code == 0


@pytest.mark.parametrize("old, new", [('"Test Comic"', '"Test\x00Comic"'),
                                      ("[build]", "\x00[build]")],
                         ids=["in-a-string", "between-tables"])
def test_nul_bytes_are_named_with_their_position(cli, tmp_path, old, new) -> None:
    manifest = edit(old, new)
    result = _check(cli, tmp_path, manifest)
    assert result.code == 2
    line = line_of(manifest, "\x00")
    column = manifest.index("\x00") - manifest.rfind("\n", 0, manifest.index("\x00"))
    assert result.located() == [(line, column)], result.err
    assert "NUL" in result.err


def test_control_character_in_the_file_gets_an_escape_hint(cli, tmp_path) -> None:
    result = _check(cli, tmp_path, edit('title = "Test Comic"', 'title = "Test\x07Comic"'))
    assert result.code == 2
    assert result.located() == [(2, 14)]
    assert "\\x07" in result.err and "escape" in result.err


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_manifest_that_is_not_a_regular_file_is_refused_not_read(tmp_path, kind) -> None:
    """A pipe would block forever and /dev/zero never ends; both must be refused at once."""
    write_project(tmp_path)
    manifest = tmp_path / "comic.toml"
    manifest.unlink()
    if kind == "fifo":
        os.mkfifo(manifest)
    else:
        manifest.symlink_to("/dev/zero")
    process = comicc_process("check", tmp_path)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 2, err
    assert "comic.toml: error[manifest]: the manifest is not a regular file" in err
    assert "Traceback" not in err


def test_rejecting_a_bomb_manifest_keeps_memory_low(cli, tmp_path) -> None:
    """Ten thousand nested arrays must not build ten thousand parser frames' worth of data."""
    write_project(tmp_path, "x = " + "[" * 100_000 + "\n")
    assert cli("check", tmp_path).code == 2
    measured = measure_fresh("from comicc.cli import main",
                             f"assert main(['check', {str(tmp_path)!r}]) == 2")
    assert measured.grown_mib < 100, measured
