"""The incremental engine: stage keys, reuse, explain, atomic writes, the lock, damaged entries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from comicc.engine.cache import Cache
from comicc.engine.engine import labelled
from comicc.engine.pipeline import build
from comicc.engine.request import BuildRequest
from comicc.engine.settings import resolve_settings
from comicc.engine.stages import FileHashes, classify_inputs, page_inputs, style_inputs
from comicc.files import write_atomic
from comicc.manifest.diagnostics import AuthorError
from comicc.manifest.load import load_project
from tests.conftest import BASE_MANIFEST, draw_art, write_project

ROOT = Path(__file__).resolve().parents[2]

TWO_PAGES = BASE_MANIFEST + """
[[page]]
layout = "splash"

  [[page.panel]]
  art = "art/p3.png"
  elements = ["mara"]
  balloons = [{ speaker = "mara", text = "Page two." }]
"""


def _project(root: Path, manifest: str = TWO_PAGES) -> Path:
    write_project(root, manifest)
    draw_art(root / "art/p3.png", "olive", shape="figure")
    return root


def _keys(root: Path) -> dict[str, dict[str, str]]:
    """Every stage's named inputs for the project as it is on disk now."""
    project = load_project(root)
    settings = resolve_settings(project, BuildRequest(backend="gram"))
    files = FileHashes(project)
    classify = classify_inputs(project.comic, files, settings)
    keys = {"classify": labelled(classify),
            "style": labelled(style_inputs(project.comic, files, settings, "c"))}
    for p in range(len(project.comic.page)):
        keys[f"page {p + 1}"] = labelled(page_inputs(project, p, [(120, 90)], "fonts"))
    return keys


EDITS = {
    "balloon text": ('text = "Page two."', 'text = "Page two, edited."'),
    "page-1 direction": ('direction = "stormy night"', 'direction = "calm dawn"'),
    "page-1 presence": ('elements = ["tower"]', 'elements = ["tower", "mara"]'),
    "page-2 language": ('layout = "splash"', 'layout = "splash"\nlanguage = "de"'),
}


@pytest.mark.parametrize(
    "edit, changed, unchanged",
    [
        ("balloon text", {"page 2"}, {"classify", "style", "page 1"}),
        ("page-1 direction", {"style"}, {"classify", "page 1", "page 2"}),
        ("page-1 presence", {"classify", "style", "page 1"}, {"page 2"}),
        ("page-2 language", {"page 2"}, {"classify", "style", "page 1"}),
    ],
)
def test_an_edit_changes_only_the_keys_that_read_it(tmp_path: Path, edit, changed, unchanged) -> None:
    root = _project(tmp_path)
    before = _keys(root)
    old, new = EDITS[edit]
    manifest = root / "comic.toml"
    manifest.write_text(manifest.read_text().replace(old, new), encoding="utf-8")
    after = _keys(root)
    for stage in changed:
        assert before[stage] != after[stage], stage
    for stage in unchanged:
        assert before[stage] == after[stage], stage


def test_panel_art_edit_leaves_other_pages_alone(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = _keys(root)
    draw_art(root / "art/p3.png", "maroon", shape="figure")
    after = _keys(root)
    assert before["style"] != after["style"]
    assert before["classify"] != after["classify"]
    assert before["page 1"] == after["page 1"]


def _explain(result) -> dict[str, tuple[str, list[str]]]:
    return {r.instance: (r.status, r.reasons) for r in result.engine.reports}


def test_rebuild_reuses_and_explains(tmp_path: Path) -> None:
    root = _project(tmp_path)
    request = BuildRequest(backend="none", output=root / "out.pdf", report=False)
    first = build(load_project(root), request)
    assert {status for status, _ in _explain(first).values()} == {"ran"}
    pdf = (root / "out.pdf").read_bytes()

    again = build(load_project(root), request)
    assert {status for status, _ in _explain(again).values()} == {"reused"}
    assert (root / "out.pdf").read_bytes() == pdf

    manifest = root / "comic.toml"
    manifest.write_text(manifest.read_text().replace("Page two.", "Page 2!"), encoding="utf-8")
    edited = build(load_project(root), request)
    explain = _explain(edited)
    assert explain["page 1"][0] == "reused"
    assert explain["page 2"] == ("ran", ["balloon text on page 2 changed"])
    assert explain["pdf"][0] == "ran"
    assert (root / "out.pdf").read_bytes() != pdf


def test_a_balloon_edit_rewrites_the_pdf_without_encoding_any_art(tmp_path: Path,
                                                                  monkeypatch) -> None:
    import comicc.page.pdf as pdf

    encoded: list[tuple[int, int]] = []
    real = pdf.art_piece
    monkeypatch.setattr(pdf, "art_piece", lambda image, *a: encoded.append(image.size) or
                        real(image, *a))
    root = _project(tmp_path)
    request = BuildRequest(backend="none", output=root / "out.pdf", report=False)
    build(load_project(root), request)
    assert len(encoded) == 3  # every panel once

    manifest = root / "comic.toml"
    manifest.write_text(manifest.read_text().replace("Page two.", "Page 2!"), encoding="utf-8")
    encoded.clear()
    edited = build(load_project(root), request)
    assert _explain(edited)["pdf"][0] == "ran" and encoded == []
    fresh = BuildRequest(backend="none", output=root / "fresh.pdf", report=False,
                         cache_dir=tmp_path / "fresh-cache")
    build(load_project(root), fresh)
    assert (root / "out.pdf").read_bytes() == (root / "fresh.pdf").read_bytes()


def test_damaged_cache_entries_are_detected_and_rebuilt(tmp_path: Path) -> None:
    root = _project(tmp_path)
    request = BuildRequest(backend="none", output=root / "out.pdf", report=False)
    build(load_project(root), request)
    good = (root / "out.pdf").read_bytes()
    cache = root / ".comicc"
    entries = sorted((cache / "entries" / "page").glob("*.json"))
    entries[0].write_bytes(entries[0].read_bytes()[:-20])  # truncated
    objects = sorted(p for p in (cache / "objects").rglob("*") if p.is_file())
    for blob in objects:  # flip a byte in every stored object
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
    (root / "out.pdf").unlink()
    result = build(load_project(root), request)
    assert any(status == "ran" for status, _ in _explain(result).values())
    assert (root / "out.pdf").read_bytes() == good


def test_blobs_checked_by_an_earlier_build_are_not_hashed_again(tmp_path: Path,
                                                               monkeypatch) -> None:
    import comicc.engine.cache as cache_module
    import comicc.engine.stamp as stamp

    monkeypatch.setattr(stamp, "RACY_NS", 0)  # no need to wait out a racy mtime here
    hashed: list[int] = []
    real_bytes, real_file = cache_module.sha256_bytes, cache_module.sha256_file
    monkeypatch.setattr(cache_module, "sha256_bytes",
                        lambda data: hashed.append(len(data)) or real_bytes(data))
    monkeypatch.setattr(cache_module, "sha256_file",
                        lambda path: hashed.append(path.stat().st_size) or real_file(path))
    root = _project(tmp_path)
    request = BuildRequest(backend="none", output=root / "out.pdf", report=False)
    build(load_project(root), request)
    build(load_project(root), request)  # checks every blob once more and records them
    stored = sum(p.stat().st_size for p in (root / ".comicc" / "objects").rglob("*")
                 if p.is_file())
    manifest = root / "comic.toml"
    manifest.write_text(manifest.read_text().replace("Page two.", "Page 2!"), encoding="utf-8")
    hashed.clear()
    edited = build(load_project(root), request)
    assert _explain(edited)["pdf"][0] == "ran"
    # Only what the edit wrote (page 2's plan, the new book) and the entries' small records
    # are hashed; the art, the other page and the old book are trusted by their stat.
    new = (root / "out.pdf").stat().st_size
    assert sum(hashed) < new + stored // 2, (hashed, new, stored)


def test_a_blob_damaged_after_it_was_trusted_is_still_caught(tmp_path: Path,
                                                             monkeypatch) -> None:
    import comicc.engine.stamp as stamp

    monkeypatch.setattr(stamp, "RACY_NS", 0)
    root = _project(tmp_path)
    request = BuildRequest(backend="none", output=root / "out.pdf", report=False)
    build(load_project(root), request)
    build(load_project(root), request)
    good = (root / "out.pdf").read_bytes()
    for blob in (p for p in (root / ".comicc" / "objects").rglob("*") if p.is_file()):
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF  # same size; the write moves its ctime
        blob.write_bytes(bytes(data))
    (root / "out.pdf").unlink()
    result = build(load_project(root), request)
    assert any(status == "ran" for status, _ in _explain(result).values())
    assert (root / "out.pdf").read_bytes() == good


def test_the_book_is_linked_out_of_the_cache_and_an_edit_in_place_is_undone(
        tmp_path: Path) -> None:
    root = _project(tmp_path)
    request = BuildRequest(backend="none", output=root / "out.pdf", report=False)
    build(load_project(root), request)
    out = root / "out.pdf"
    good = out.read_bytes()
    blobs = [p for p in (root / ".comicc" / "objects").rglob("*") if p.is_file()]
    assert any(os.path.samefile(out, blob) for blob in blobs)  # not a second copy
    # Another program writes into the book in place (through the link, into the cache).
    with open(out, "r+b") as handle:
        handle.seek(len(good) // 2)
        handle.write(b"X")
    result = build(load_project(root), request)
    assert _explain(result)["pdf"][0] == "ran"  # the damaged blob failed its checksum
    assert out.read_bytes() == good


def test_a_second_build_is_refused_while_one_runs(tmp_path: Path) -> None:
    root = _project(tmp_path)
    with Cache(root).lock():
        with pytest.raises(AuthorError, match="another comicc build of this project is running"):
            build(load_project(root), BuildRequest(backend="none", report=False))


def test_interrupted_write_leaves_old_file_and_no_temporary(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "file.bin"
    write_atomic(target, b"old")

    def broken_fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


# Runs `comicc ARGS...` with two observation points: it prints "start STAGE INSTANCE" as each
# stage begins, and at its Nth rename of a finished temporary into place it prints
# "holding PATH" and waits to be killed: the temporary is written but never renamed.
_KILLABLE = """
import os, sys, time
import comicc.engine.engine as engine
from comicc.cli import main

hold_at, renames = int(sys.argv[1]), 0
real_replace, real_run = os.replace, engine.Engine.run

def replace(source, target):
    global renames
    if str(source).endswith(".tmp"):
        renames += 1
        if renames == hold_at:
            print("holding", source, flush=True)
            time.sleep(3600)
    return real_replace(source, target)

def run(self, stage, instance, inputs, compute):
    print("start", stage.name, instance, flush=True)
    return real_run(self, stage, instance, inputs, compute)

os.replace, engine.Engine.run = replace, run
sys.exit(main(sys.argv[2:]))
"""


def _tamper(leftover: Path, cache: Path, reference: Path) -> None:
    """Make a leftover temporary plausible but wrong: an intact file of the same kind from a
    finished build (another entry, of its stage if there is one; another object), so a build
    that trusted it would produce a different book or fail."""
    folder = leftover.parent.relative_to(cache)
    if not folder.parts or not (reference / folder.parts[0]).is_dir():
        return  # the build log, or a scratch folder of the killed build: nothing trusts those
    kind = folder.parts[0]
    pool = sorted((reference / folder).glob("*.json")) + sorted((reference / kind).rglob("*"))
    alien = next(p for p in pool if p.is_file() and not p.name.startswith(".")
                 and f".{p.name}." not in leftover.name)
    leftover.write_bytes(alien.read_bytes())


@pytest.mark.slow
def test_killed_builds_leave_a_cache_the_next_build_accepts(tmp_path: Path) -> None:
    """SIGKILL a layout build inside each stage, at each rename of a temporary into place.

    The killed build leaves a written, never renamed `*.tmp`; made plausible but wrong, it is
    ignored by the next build, which writes the same book as an undisturbed build, and
    `comicc clean` removes it."""
    reference_root = _project(tmp_path / "reference")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["build", "--backend", "none", "--no-report", "-q", "-o"]

    def comicc(root: Path, hold_at: int = 0) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", _KILLABLE, str(hold_at), args[0],
                                 str(root), *args[1:], str(root / "out.pdf")],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    reference = comicc(reference_root)
    assert reference.wait(timeout=300) == 0, reference.communicate()
    good = (reference_root / "out.pdf").read_bytes()

    stages_killed: set[str] = set()
    for hold_at in range(1, 100):
        root = _project(tmp_path / f"killed-{hold_at}")
        process = comicc(root, hold_at)
        started = []
        for line in process.stdout:  # type: ignore[union-attr]
            if line.startswith("start "):
                started.append(line.split()[1])
            if line.startswith("holding "):
                break
        else:  # fewer renames than hold_at: the build finished undisturbed
            assert process.wait(timeout=300) == 0, process.communicate()
            break
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        leftovers = sorted(root.rglob("*.tmp"))
        assert leftovers == [Path(line.split(maxsplit=1)[1].strip())], leftovers
        (leftover,) = leftovers
        if ".comicc" in leftover.parts:
            assert started, "a cache write before any stage started"
            stages_killed.add(started[-1])
            _tamper(leftover, root / ".comicc", reference_root / ".comicc")
        done = comicc(root)
        _, err = done.communicate(timeout=300)
        assert done.returncode == 0, err
        assert (root / "out.pdf").read_bytes() == good, f"killed at rename {hold_at}: {leftover}"
        assert leftover.exists(), "the next build ignores a leftover; `comicc clean` removes it"
        if ".comicc" in leftover.parts:
            clean = subprocess.run([sys.executable, "-m", "comicc", "clean", str(root)], env=env,
                                   capture_output=True, text=True, timeout=120)
            assert clean.returncode == 0, clean.stderr
            assert not list((root / ".comicc").rglob("*.tmp"))
    else:
        pytest.fail("the build never finished undisturbed")
    assert stages_killed == {"page", "pdf"}, stages_killed


def test_output_suffix_must_be_pdf_or_cbz(tmp_path: Path, capsys) -> None:
    from comicc.cli import main

    root = _project(tmp_path)
    assert main(["build", str(root), "--backend", "none", "-o", str(root / "book.docx")]) == 2
    assert ".pdf or .cbz" in capsys.readouterr().err
