"""The command line's less travelled paths: the `auto` backend, `comicc clean`, build flags,
internal errors, --version, `schema -o`, `init --title` and the pixels of a CBZ page."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import comicc.cli as cli
import comicc.engine.pipeline as pipeline
from comicc import __version__
from comicc.cli import main
from comicc.engine.request import BuildRequest
from comicc.engine.settings import resolve_settings
from comicc.manifest.load import load_project
from tests.conftest import BASE_MANIFEST, write_project

# -- backend = "auto" ----------------------------------------------------------------


def with_build(extra: str) -> str:
    return BASE_MANIFEST.replace('[build]\nbackend = "none"\n', f"[build]\n{extra}\n")


def test_auto_backend_without_clip_weights_is_gram(tmp_path: Path) -> None:
    write_project(tmp_path, with_build('backend = "auto"'))
    settings = resolve_settings(load_project(tmp_path), BuildRequest())
    assert settings.backend == "gram"
    assert settings.run.backend_reason.startswith("auto: no CLIP weights")


def test_auto_backend_with_a_clip_checkpoint_is_clip(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights/clip.safetensors").write_bytes(b"")
    write_project(tmp_path, with_build('backend = "auto"\nclip_checkpoint = "weights/clip.safetensors"'))
    settings = resolve_settings(load_project(tmp_path), BuildRequest())
    assert settings.backend == "clip"
    assert "checkpoint" in settings.run.backend_reason


def test_auto_backend_with_uncached_clip_weights_falls_back_to_gram(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("comicc.ml.clip.clip_available", lambda *_: False)
    write_project(tmp_path, with_build('backend = "auto"\nclip_pretrained = "nowhere"'))
    settings = resolve_settings(load_project(tmp_path), BuildRequest())
    assert settings.backend == "gram" and "not in the local cache" in settings.run.backend_reason


def test_the_default_backend_is_auto(tmp_path: Path) -> None:
    write_project(tmp_path, with_build(""))
    assert resolve_settings(load_project(tmp_path), BuildRequest()).backend == "gram"


# -- build flags -----------------------------------------------------------------------


def test_build_flags_reach_the_request_and_override_the_manifest(project: Path, monkeypatch) -> None:
    seen: list[BuildRequest] = []
    monkeypatch.setattr(pipeline, "run_build", lambda request: seen.append(request) or 0)
    assert main(["build", str(project), "--seed", "7", "--stylenet", "unet", "--device", "cpu",
                 "--format", "cbz", "--backend", "gram"]) == 0
    (request,) = seen
    assert (request.seed, request.stylenet, request.device, request.format) == (7, "unet", "cpu", "cbz")
    settings = resolve_settings(load_project(project), request)
    manifest = load_project(project).comic.build
    assert manifest.seed != 7 and settings.seed == 7
    assert (settings.stylenet, settings.device, settings.backend) == ("unet", "cpu", "gram")


def test_format_cbz_writes_a_cbz_whose_pages_show_the_art(project: Path) -> None:
    assert main(["build", str(project), "--backend", "none", "--format", "cbz", "--no-report", "-q"]) == 0
    out = project / f"{project.name}.cbz"  # the default name, with the flag's suffix
    assert not (project / f"{project.name}.pdf").exists()
    with zipfile.ZipFile(out) as archive:
        (page,) = [n for n in archive.namelist() if n.endswith(".jpg")]
        pixels = np.asarray(Image.open(io.BytesIO(archive.read(page))).convert("RGB"), dtype=float)

    def share(colour: tuple[int, int, int]) -> float:
        return float((np.abs(pixels - colour).max(axis=2) < 24).mean())

    # Panel 1 is grey art with an orange figure, panel 2 dark blue with a white tower.
    assert share((128, 128, 128)) > 0.05
    assert share((0, 0, 139)) > 0.05
    assert share((255, 165, 0)) > 0.002


# -- comicc clean ----------------------------------------------------------------------


def build(project: Path) -> None:
    assert main(["build", str(project), "--backend", "none", "--no-report", "-q"]) == 0


def files_outside_the_cache(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".comicc" not in p.relative_to(root).parts}


def cache_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in (root / ".comicc").rglob("*")
            if p.is_file() and p.name not in ("lock", "builds.jsonl")}


def test_clean_empties_the_cache_and_nothing_else(project: Path, capsys) -> None:
    build(project)
    before = files_outside_the_cache(project)
    assert cache_files(project)
    assert main(["clean", str(project)]) == 0
    assert "removed" in capsys.readouterr().out
    assert cache_files(project) == set()
    assert files_outside_the_cache(project) == before
    build(project)  # and the next build fills it again
    assert cache_files(project)


def test_clean_keep_last_keeps_the_last_builds_entries(project: Path) -> None:
    build(project)
    first = cache_files(project)
    manifest = project / "comic.toml"
    manifest.write_text(manifest.read_text().replace("Is anyone up there?", "Hello?"))
    build(project)
    both = cache_files(project)
    assert both > first
    assert main(["clean", str(project), "--keep-last", "1"]) == 0
    kept = cache_files(project)
    assert first - kept and kept < both and kept
    before = files_outside_the_cache(project)
    build(project)  # the last build's entries are all still there: nothing new is written
    assert cache_files(project) == kept and files_outside_the_cache(project) == before


@pytest.mark.parametrize("keep_last", [0, 1])
def test_clean_never_deletes_through_a_link_out_of_the_cache(tmp_path: Path, keep_last: int) -> None:
    project = tmp_path / "comic"
    write_project(project)
    build(project)
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    for folder in (project / ".comicc/entries", project / ".comicc/objects"):
        (folder / "link").symlink_to(outside, target_is_directory=True)
    (project / ".comicc/entries/file-link").symlink_to(outside / "keep.txt")
    before = files_outside_the_cache(project)
    assert main(["clean", str(project), "--keep-last", str(keep_last)]) == 0
    assert (outside / "keep.txt").read_text() == "mine"
    assert files_outside_the_cache(project) == before


# -- internal errors, --version, schema -o, init --title ---------------------------------


def crash(_args) -> int:
    raise RuntimeError("boom")


@pytest.mark.parametrize("how", ["plain", "--debug", "COMICC_DEBUG"])
def test_internal_error_exits_1_with_a_traceback_only_when_asked(project: Path, monkeypatch, capsys,
                                                                 how: str) -> None:
    monkeypatch.setattr(cli, "cmd_check", crash)
    monkeypatch.delenv("COMICC_DEBUG", raising=False)
    if how == "COMICC_DEBUG":
        monkeypatch.setenv("COMICC_DEBUG", "1")
    argv = (["--debug"] if how == "--debug" else []) + ["check", str(project)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "comicc: internal error: RuntimeError: boom" in err
    assert ("Traceback (most recent call last)" in err) == (how != "plain")
    assert "rerun with --debug" in err


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"comicc {__version__}"


def test_schema_output_writes_the_file_and_prints_nothing(tmp_path: Path, capsys) -> None:
    from comicc.manifest.schema import schema_text

    target = tmp_path / "comic.schema.json"
    assert main(["schema", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert target.read_text(encoding="utf-8") == schema_text()


def test_init_title_names_the_comic(tmp_path: Path, capsys) -> None:
    target = tmp_path / "my-book"
    assert main(["init", str(target), "--title", "Salt & Stars"]) == 0
    assert load_project(target).comic.comic.title == "Salt & Stars"
    assert main(["check", str(target)]) == 0

