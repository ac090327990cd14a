"""Paths that leave the project, point at the wrong kind of file, or make the output an input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import BASE_MANIFEST, write_project
from tests.hostile.conftest import edit, line_of, snapshot

MARA = '"art/mara.png"'


@pytest.mark.parametrize("reference, words", [
    ('"art/../../outside.png"', ["leads outside the project folder"]),
    ('"art/./../art/../../../etc/hostname"', ["leads outside the project folder"]),
    ('"/etc/hostname"', ["absolute path"]),
    ('"~/mara.png"', ["absolute path"]),
    ('"art/mara.png\\u0000.txt"', ["NUL character"]),
    ('"' + "a" * 5000 + '.png"', ["cannot use", "File name too long"]),
    ('""', ["empty path"]),
], ids=["dotdot", "dotdot-winding", "absolute", "home", "nul", "too-long", "empty"])
def test_reference_paths_that_cannot_be_used(cli, tmp_path, reference, words) -> None:
    manifest = edit(MARA, reference)
    write_project(tmp_path, manifest)
    (tmp_path.parent / "outside.png").write_bytes((tmp_path / "art/mara.png").read_bytes())
    result = cli("check", tmp_path)
    assert result.code == 2, result.err
    assert result.located() == [(line_of(manifest, reference), 15)], result.err
    assert "at elements.mara.references[0]" in result.err
    for word in words:
        assert word in result.err, result.err


def test_symlinked_folder_leading_outside_is_refused(cli, tmp_path) -> None:
    project, outside = tmp_path / "comic", tmp_path / "elsewhere"
    write_project(outside)
    manifest = edit(MARA, '"art/shared/mara.png"')
    write_project(project, manifest)
    (project / "art/shared").symlink_to(outside / "art", target_is_directory=True)
    result = cli("check", project)
    assert result.code == 2
    assert "`art/shared/mara.png` leads through a symbolic link outside the project" in result.err


def test_symlink_inside_the_project_is_fine(cli, tmp_path) -> None:
    write_project(tmp_path, edit(MARA, '"art/alias.png"'))
    (tmp_path / "art/alias.png").symlink_to(tmp_path / "art/mara.png")
    assert cli("check", tmp_path).code == 0


def test_symlink_loop_is_an_error_not_a_hang(cli, tmp_path) -> None:
    write_project(tmp_path)
    art = tmp_path / "art/p2.png"
    art.unlink()
    art.symlink_to(art)
    result = cli("check", tmp_path)
    assert result.code == 2
    assert "art/p2.png" in result.err and "at page[1].panel[2].art" in result.err


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_not_a_regular_file_where_art_is_expected(cli, tmp_path, kind) -> None:
    write_project(tmp_path)
    art = tmp_path / "art/p2.png"
    art.unlink()
    art.mkdir() if kind == "directory" else os.mkfifo(art)
    result = cli("check", tmp_path)
    assert result.code == 2
    expected = "is a directory, expected a file" if kind == "directory" else "is not a regular file"
    assert f"`art/p2.png` {expected}" in result.err
    assert result.located() == [(line_of(BASE_MANIFEST, '"art/p2.png"'), 9)]


def test_unreadable_art_is_named(cli, tmp_path, monkeypatch) -> None:
    write_project(tmp_path)
    art = tmp_path / "art/p2.png"
    if os.geteuid() == 0:  # root reads through chmod 000: simulate what a user would see
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == art.resolve()
                            else real_access(p, mode, **kw))
    else:
        art.chmod(0)
    result = cli("check", tmp_path)
    art.chmod(0o644)
    assert result.code == 2
    assert "file `art/p2.png` is not readable (permission denied)" in result.err


@pytest.mark.parametrize("output", ["comic.toml", "art/p1.png", "art/../art/style.png",
                                    "link.pdf"])
def test_output_that_is_an_input_is_refused_and_left_alone(cli, tmp_path, output) -> None:
    write_project(tmp_path)
    (tmp_path / "link.pdf").symlink_to(tmp_path / "art/tower.png")
    before = snapshot(tmp_path)
    result = cli("build", tmp_path, "--backend", "none", "-o", tmp_path / output)
    assert result.code == 2
    assert "the output path is one of the comic's own input files" in result.err
    assert snapshot(tmp_path) == before


def test_output_that_is_a_directory_is_refused(cli, tmp_path) -> None:
    write_project(tmp_path)
    result = cli("build", tmp_path, "--backend", "none", "-o", tmp_path / "art")
    assert result.code == 2
    assert "art: error[output]: the output path is a directory" in result.err


def test_output_under_a_file_is_a_clear_error(cli, tmp_path) -> None:
    """A read-only folder as root: the output's folder is a plain file, so nothing can go there."""
    write_project(tmp_path)
    (tmp_path / "notes.txt").write_text("keep me")
    result = cli("build", tmp_path, "--backend", "none", "-o", tmp_path / "notes.txt/out.pdf")
    assert result.code == 2
    assert "notes.txt/out.pdf: error[output]: cannot write the output" in result.err
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_output_inside_the_build_cache_is_refused(cli, tmp_path) -> None:
    write_project(tmp_path)
    result = cli("build", tmp_path, "--backend", "none", "-o", tmp_path / ".comicc/lock")
    assert result.code == 2
