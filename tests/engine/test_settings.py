"""Build settings: the command line merged over [build] once, then read by every stage."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from comicc.cli import main
from comicc.engine.request import BuildRequest
from comicc.engine.settings import resolve_settings
from comicc.manifest.choices import PresetName
from comicc.manifest.diagnostics import AuthorError
from comicc.manifest.load import load_project
from comicc.ml.presets import PRESETS
from tests.conftest import BASE_MANIFEST, write_project

GRAM = BASE_MANIFEST.replace('backend = "none"', 'backend = "gram"')


def test_preset_choices_are_the_presets() -> None:
    assert list(typing.get_args(PresetName)) == list(PRESETS)


def test_command_line_overrides_reach_the_resolved_preset(tmp_path: Path) -> None:
    write_project(tmp_path, GRAM)
    settings = resolve_settings(load_project(tmp_path),
                                BuildRequest(preset="standard", steps=7, seed=3))
    assert settings.preset == PRESETS["standard"].with_overrides(steps=7)
    assert settings.seed == 3 and settings.backend == "gram"


def test_quiet_and_threads_stay_out_of_the_cache_keys(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path, GRAM)
    project = load_project(tmp_path)
    loud = resolve_settings(project, BuildRequest())
    monkeypatch.setenv("COMICC_THREADS", "1")
    quiet = resolve_settings(project, BuildRequest(quiet=True))
    assert quiet.run.quiet and not loud.run.quiet
    assert quiet.key() == loud.key() and quiet.classify_key() == loud.classify_key()


def test_a_bad_command_line_value_is_an_author_error(tmp_path: Path, capsys) -> None:
    write_project(tmp_path, GRAM)
    assert main(["build", str(tmp_path), "--steps", "-3"]) == 2
    assert "--steps" in capsys.readouterr().err


def test_stylenet_unet_from_the_command_line_needs_a_style_image(tmp_path: Path) -> None:
    # The manifest asks for the pretrained network and has no style image; the command
    # line's --stylenet unet must still be checked.
    write_project(tmp_path, GRAM.replace('style_image = "art/style.png"\n', ""))
    project = load_project(tmp_path)
    assert project.comic.build.stylenet == "pretrained" and not project.comic.comic.style_image
    with pytest.raises(AuthorError, match="needs a style image"):
        resolve_settings(project, BuildRequest(stylenet="unet"))


@pytest.mark.slow
def test_quiet_hides_the_style_progress_bar(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from comicc.engine import style_stage
    from comicc.engine.pipeline import build

    asked: list[bool] = []

    def progress(total: int, quiet: bool):
        asked.append(quiet)
        return None, None

    monkeypatch.setattr(style_stage, "_progress", progress)
    tiny = GRAM.replace('backend = "gram"', 'backend = "gram"\nstylenet = "unet"\nsize = 32')
    write_project(tmp_path, tiny)
    build(load_project(tmp_path), BuildRequest(steps=1, quiet=True, report=False,
                                               output=tmp_path / "out.pdf"))
    assert asked == [True]


def test_the_background_term_is_the_pretrained_networks_only(tmp_path: Path) -> None:
    """The background term holds the untuned network's colours: the Gram backend's target
    for the pretrained network; for the U-Net, which starts as the identity, they would be
    the art's, and the CLIP backend pulls towards text, so its weight is 0 there."""
    write_project(tmp_path, GRAM.replace('backend = "gram"',
                                         'backend = "gram"\nclip_pretrained = "a-hub-tag"'))
    project = load_project(tmp_path)
    pretrained = resolve_settings(project, BuildRequest(stylenet="pretrained"))
    unet = resolve_settings(project, BuildRequest(stylenet="unet"))
    clip = resolve_settings(project, BuildRequest(stylenet="pretrained", backend="clip"))
    assert pretrained.backend == "gram" and pretrained.preset.background_weight > 0
    assert unet.preset.background_weight == 0
    assert clip.backend == "clip" and clip.preset.background_weight == 0
