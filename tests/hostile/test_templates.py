"""Hostile layout templates and CLIP checkpoints: refused by name, nothing executed."""

from __future__ import annotations

import os
import pickle
import resource
import warnings
from pathlib import Path

import pytest

from tests.conftest import write_project
from tests.hostile.conftest import comicc_process, edit, line_of, snapshot

EVIL = edit('layout = "grid-2x2"', 'layout = "evil"')
HEADER = "capacity = 4\nmin_panels = 1\n"
FRAMES = ("{% for i in range(n) %}\n[[frame]]\nx = {{ i * 100 }}\ny = 0\nw = 90\nh = 90\n"
          "{% endfor %}\n")


def _template_project(root: Path, template: str) -> Path:
    write_project(root, EVIL)
    path = root / "templates/layouts/evil.toml.j2"
    path.parent.mkdir(parents=True)
    path.write_text(template, encoding="utf-8")
    return path


@pytest.mark.parametrize("escape, words", [
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", 'reaches for "__subclasses__"'),
    ("{{ min.__globals__['os'] }}", 'reaches for "__globals__"'),
    ("{{ cycler.__init__.__globals__.os.system('touch PWNED') }}", 'reaches for "__'),
], ids=["mro", "globals", "cycler"])
def test_template_reaching_for_internals_is_refused_by_check(cli, tmp_path, escape, words) -> None:
    template = _template_project(tmp_path, HEADER + "# " + escape + "\n" + FRAMES)
    result = cli("check", tmp_path)
    assert result.code == 2
    assert f"{template}:3: error[layout]: layout template {words}" in result.err
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("escape", [
    "{{ ''|attr('__cla' ~ 'ss__') }}",
    "{% set k = '__cla' ~ 'ss__' %}{{ ''[k] }}",
    "{{ '{0.__class__}'.format('') }}",
    "{{ ('{0.__cl' ~ 'ass__}').format(range) }}",
], ids=["attr-filter", "computed-item", "str-format", "computed-format"])
def test_template_escape_built_at_run_time_is_stopped_by_the_sandbox(cli, tmp_path,
                                                                      escape) -> None:
    template = _template_project(tmp_path, HEADER + "# " + escape + "\n" + FRAMES)
    before = snapshot(tmp_path)
    result = cli("build", tmp_path, "--backend", "none", "--no-report")
    assert result.code == 2, result.err
    assert f"{template}:3: error[layout]: layout template refused by the sandbox" in result.err
    assert "unsafe" in result.err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("tag", ["{% include '/etc/hostname' %}", "{% import 'os' as os %}",
                                 "{% extends '../../comic.toml' %}"])
def test_template_cannot_read_other_files(cli, tmp_path, tag) -> None:
    template = _template_project(tmp_path, HEADER + tag + "\n" + FRAMES)
    result = cli("build", tmp_path, "--backend", "none", "--no-report")
    assert result.code == 2, result.err
    assert f"{template}:3: error[layout]" in result.err


@pytest.mark.parametrize("frames, words", [
    (FRAMES.replace("i * 100", "i * 1000"), "frame 2 (1000.0, 0.0, 90.0 x 90.0 pt) lies off the page"),
    (FRAMES.replace("i * 100", "0"), "frames 1 and 2 overlap"),
    (FRAMES.replace("w = 90", "w = -90"), "frame 1 is -90.0 x 90.0 pt: too small"),
    (FRAMES.replace("w = 90", "w = nan"), "frame 1 w must be a finite number, got nan"),
    (FRAMES.replace("h = 90", 'h = "tall"'), "frame 1 h must be a finite number"),
    ("[[frame]]\nx = 0\ny = 0\nw = 90\nh = 90\n", "produced 1 frames for 2 panels"),
    (FRAMES.replace("h = 90", "h = 90\nz = 1"), "frame 1 has unknown keys: z"),
    (FRAMES + "[[frame\n", "did not render to valid TOML"),
], ids=["off-page", "overlapping", "negative", "nan", "string", "too-few", "unknown-key",
        "bad-toml"])
def test_template_rendering_invalid_geometry_is_named(cli, tmp_path, frames, words) -> None:
    template = _template_project(tmp_path, HEADER + frames)
    result = cli("build", tmp_path, "--backend", "none", "--no-report")
    assert result.code == 2, result.err
    assert f"{template}: error[layout]" in result.err and words in result.err, result.err
    assert not (tmp_path / f"{tmp_path.name}.pdf").exists()


@pytest.mark.parametrize("text, words", [
    (HEADER + "{% for %}\n", "template syntax error"),
    (FRAMES, "must start with `capacity = N`"),
    ("capacity = 0\n" + FRAMES, "must start with `capacity = N`"),
    ("capacity = 4\nmin_panels = 9\n" + FRAMES, "`min_panels` must be a whole number"),
    ("\xff\xfe binary \x00", "capacity = N"),
], ids=["syntax", "no-capacity", "zero-capacity", "min-over-capacity", "binary"])
def test_broken_template_is_named_by_check(cli, tmp_path, text, words) -> None:
    template = _template_project(tmp_path, text)
    result = cli("check", tmp_path)
    assert result.code == 2
    assert str(template) in result.err and words in result.err, result.err


def test_template_memory_bomb_is_named_not_a_crash(tmp_path) -> None:
    template = _template_project(tmp_path, HEADER + "# {{ ('a' * 10 ** 10)|length }}\n" + FRAMES)

    def limit_memory() -> None:
        two_gib = 2 << 30
        resource.setrlimit(resource.RLIMIT_AS, (two_gib, two_gib))

    process = comicc_process("build", tmp_path, "--backend", "none", "--no-report",
                             preexec_fn=limit_memory)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2, err
    assert f"{template}:3: error[layout]" in err


# -- CLIP checkpoints ----------------------------------------------------------------------

class _Payload:
    """Unpickling this runs `touch <marker>`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_checkpoint_is_refused_without_running_it(tmp_path) -> None:
    from comicc.ml.clip import TINY_CLIP_ARCH, ClipCheckpointError, load_clip

    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}, protocol=2))
    with pytest.raises(ClipCheckpointError, match="refusing to load .*evil.pt"):
        load_clip(TINY_CLIP_ARCH, checkpoint=evil)
    assert not marker.exists()


def test_refusing_a_pickle_prints_no_python_warning(tmp_path) -> None:
    from comicc.ml.clip import TINY_CLIP_ARCH, ClipCheckpointError, load_clip

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"state_dict": _Payload(tmp_path / "PWNED")}, protocol=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ClipCheckpointError):
            load_clip(TINY_CLIP_ARCH, checkpoint=evil)
    assert not caught, [str(w.message) for w in caught]


def test_checkpoint_paths_are_checked_like_art(cli, tmp_path) -> None:
    manifest = edit('backend = "none"', 'backend = "clip"\nclip_checkpoint = "../evil.pt"')
    write_project(tmp_path, manifest)
    result = cli("check", tmp_path)
    assert result.code == 2
    assert "`../evil.pt` leads outside the project folder" in result.err
    assert result.located() == [(line_of(manifest, '"../evil.pt"'), 19)]
    assert "at build.clip_checkpoint" in result.err
