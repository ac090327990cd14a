"""The stat fast path: a no-op build is answered from its stamp, and every change is still seen."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from comicc.cli import main
from comicc.engine import pipeline
from comicc.engine.stamp import FileIndex


def _age(root: Path, seconds: float = 60.0) -> None:
    """Date every file back: a file written just now is racy and never trusted by its stat."""
    when = time.time() - seconds
    for path in root.rglob("*"):
        if path.is_file() and ".comicc" not in path.parts:
            os.utime(path, (when, when))


@pytest.fixture
def full_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the builds that took the full path (loaded the manifest and ran the engine)."""
    calls: list[int] = []
    real = pipeline.run_build

    def counted(request: pipeline.BuildRequest) -> int:
        calls.append(1)
        return real(request)

    monkeypatch.setattr(pipeline, "run_build", counted)
    return calls


def _build(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, str]:
    assert main(["build", str(root), "--no-report", "--explain", *extra]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def _timeless(text: str) -> str:
    return re.sub(r" in [0-9.]+s", "", text)


def test_a_no_op_build_is_answered_by_stat_and_says_what_a_full_one_says(
        project: Path, capsys, full_builds) -> None:
    _age(project)
    _build(project, capsys)
    (project / ".comicc" / "stamps").rename(project / "stamps.away")
    full_out, full_err = _build(project, capsys)  # a full build with nothing changed
    assert len(full_builds) == 2 and "0 stage(s) ran" in full_out
    replayed_out, replayed_err = _build(project, capsys)
    assert len(full_builds) == 2, "the no-op build loaded the manifest"
    assert _timeless(replayed_out) == _timeless(full_out)
    assert replayed_err == full_err  # the same warnings


def test_touching_a_file_rehashes_it_and_reruns_nothing(project: Path, capsys, full_builds) -> None:
    _age(project)
    _build(project, capsys)
    os.utime(project / "art/p1.png", (time.time() - 30, time.time() - 30))
    out, _ = _build(project, capsys)
    assert len(full_builds) == 2 and "0 stage(s) ran" in out, out
    _build(project, capsys)
    assert len(full_builds) == 2, "the touched file's new stat is recorded"


def test_an_edit_that_keeps_the_size_is_seen(project: Path, capsys, full_builds) -> None:
    _age(project)
    _build(project, capsys)
    manifest = project / "comic.toml"
    text = manifest.read_text()
    manifest.write_text(text.replace("Is anyone up there?", "Is anyone in there?"))
    assert len(manifest.read_text()) == len(text)
    _age(project, 30)  # not racy: only size and mtime (and ctime) tell the edit
    out, _ = _build(project, capsys)
    assert len(full_builds) == 2
    assert re.search(r"page 1 +ran .*balloon text on page 1 changed", out), out


def test_a_build_right_after_an_edit_is_not_trusted_to_stat(project: Path, capsys,
                                                            full_builds) -> None:
    _build(project, capsys)  # the art was written a moment ago: racy
    _build(project, capsys)
    assert len(full_builds) == 2
    assert not list((project / ".comicc" / "stamps").glob("*.json"))


def test_another_flag_or_a_missing_output_takes_the_full_path(project: Path, capsys,
                                                              full_builds) -> None:
    _age(project)
    _build(project, capsys)
    _build(project, capsys, "--format", "cbz")
    assert len(full_builds) == 2
    (project / f"{project.name}.pdf").unlink()
    _build(project, capsys)
    assert len(full_builds) == 3 and (project / f"{project.name}.pdf").is_file()


def test_the_file_index_rehashes_only_files_whose_stat_changed(tmp_path: Path) -> None:
    art = tmp_path / "art.png"
    art.write_bytes(b"aaaa")
    os.utime(art, (time.time() - 60, time.time() - 60))
    index = FileIndex(tmp_path / "cache")
    first = index.sha256(art)
    index.save()
    # A recorded hash is trusted while the stat is unchanged (so it is not read again) ...
    (tmp_path / "cache" / "index.json").write_text(
        (tmp_path / "cache" / "index.json").read_text().replace(first, "f" * 64))
    assert FileIndex(tmp_path / "cache").sha256(art) == "f" * 64
    # ... and the same size with new content and mtime is hashed again.
    art.write_bytes(b"bbbb")
    os.utime(art, (time.time() - 50, time.time() - 50))
    assert FileIndex(tmp_path / "cache").sha256(art) not in (first, "f" * 64)
