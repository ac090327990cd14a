"""The artist's dials end to end: strength 0 gives the art back at print size, an element's
strength acts inside its region, and a strength edit re-styles only its panel."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from comicc.engine.cache import Cache
from comicc.engine.pipeline import build, run_build
from comicc.engine.request import BuildRequest
from comicc.manifest.load import load_project
from tests.conftest import draw_art, write_project
from tests.engine.test_style_build import TINY

# The pretrained network (the default), as small and short as a build allows.
PRETRAINED = TINY.replace('stylenet = "unet"\n', "").replace("steps = 3", "steps = 1")
# Panel 1.1 at strength 0; the tower (a strip down the middle of panel 1.2) at strength 0.
DIALS = PRETRAINED.replace(
    '  direction = "stormy night"\n', '  direction = "stormy night"\n  strength = 0.0\n'
).replace(
    '  elements = ["tower"]\n',
    '  elements = ["tower"]\n  regions = { tower = [0.35, 0.0, 0.3, 1.0] }\n',
).replace('kind = "setting"\n', 'kind = "setting"\nstrength = 0.0\n')


def _panel(root: Path, label: str) -> np.ndarray:
    cache = Cache(root)
    entry = cache.latest("style", {})
    data = cache.get_blob(entry.outputs[f"panel-{label}.png"])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


@pytest.fixture(scope="module")
def dials(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dials")
    write_project(root, DIALS)
    # Larger than the print side, so the build prints a downscaled copy of the art itself.
    draw_art(root / "art/p1.png", "grey", size=(1000, 750), shape="figure")
    draw_art(root / "art/p2.png", "darkblue", size=(1000, 750), shape="tower")
    build(load_project(root), BuildRequest(output=root / "out.pdf"))
    return root


@pytest.mark.slow
def test_strength_zero_gives_the_concept_art_back_at_print_size(dials: Path) -> None:
    from comicc.engine.stages import panel_print_sizes

    styled = _panel(dials, "1.1")
    width, height = panel_print_sizes(load_project(dials))[0]
    assert styled.shape == (height, width, 3)
    art = Image.open(dials / "art/p1.png").convert("RGB")
    art = art.resize((width, height), Image.Resampling.LANCZOS)
    assert np.abs(styled - np.asarray(art, dtype=np.float64)).max() <= 1


@pytest.mark.slow
def test_element_strength_changes_pixels_inside_its_region_more_than_outside(dials: Path) -> None:
    styled = _panel(dials, "1.2")
    art = Image.open(dials / "art/p2.png").convert("RGB")
    art = np.asarray(art.resize((styled.shape[1], styled.shape[0]), Image.Resampling.LANCZOS),
                     dtype=np.float64)
    change = np.abs(styled - art).mean(axis=2)
    width = styled.shape[1]
    inside = change[:, int(0.42 * width):int(0.58 * width)]  # clear of the soft edge
    outside = np.concatenate([change[:, :int(0.25 * width)], change[:, int(0.75 * width):]], 1)
    print(f"mean change inside {inside.mean():.2f}, outside {outside.mean():.2f} levels")
    assert inside.max() <= 1 and outside.mean() > 10


@pytest.mark.slow
def test_report_shows_each_panels_resolved_strength(dials: Path) -> None:
    report = json.loads((dials / "out.report.json").read_text(encoding="utf-8"))
    assert [p["strength"] for p in report["panels"]] == [
        {"strength": 0.0, "source": "panel", "elements": {}, "keep": "auto",
         "colours_kept": ["mara"]},  # a character's; the tower is a setting
        {"strength": 1.0, "source": "comic", "elements": {"tower": 0.0}, "keep": "auto",
         "colours_kept": []},
    ]
    html = (dials / "out.report.html").read_text(encoding="utf-8")
    assert "inside its region" in html
    assert html.count("<dt>own colours</dt><dd>kept: mara</dd>") == 1


@pytest.fixture(scope="module")
def unet(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unet-dials")
    write_project(root, TINY)
    build(load_project(root), BuildRequest(output=root / "out.pdf", report=False))
    return root


@pytest.mark.slow
def test_a_strength_edit_restyles_only_its_panel(unet: Path, capsys) -> None:
    before = {label: _panel(unet, label) for label in ("1.1", "1.2")}
    manifest = unet / "comic.toml"
    manifest.write_text(manifest.read_text().replace(
        '  elements = ["tower"]\n', '  elements = ["tower"]\n  strength = 0.3\n'), encoding="utf-8")
    assert run_build(BuildRequest(path=unet, output=unet / "out.pdf", report=False,
                                  explain=True, quiet=True)) == 0
    explained = capsys.readouterr().out
    style_line = next(line for line in explained.splitlines() if line.startswith("style "))
    assert "ran" in style_line and "(panel 1.2 strength changed)" in style_line, style_line
    summary = json.loads(Cache(unet).get_blob(Cache(unet).latest("style", {}).outputs[
        "summary.json"]))
    assert summary["warm_start"] and summary["changed_panels"] == ["1.2"]
    assert np.array_equal(_panel(unet, "1.1"), before["1.1"])
    assert not np.array_equal(_panel(unet, "1.2"), before["1.2"])


# Every panel keeps the art's colours; panel 1.2 keeps its light instead.
KEEP = PRETRAINED.replace('[build]\n', '[build]\nkeep = "colours"\n').replace(
    '  elements = ["tower"]\n', '  elements = ["tower"]\n  keep = "lighting"\n')


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """Mean (Cb, Cr) of an RGB array in 0-255 levels (BT.601)."""
    r, g, b = (rgb[..., k] / 255 for k in range(3))
    return np.array([(-0.168736 * r - 0.331264 * g + 0.5 * b).mean(),
                     (0.5 * r - 0.418688 * g - 0.081312 * b).mean()])


@pytest.fixture(scope="module")
def kept(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("keep")
    write_project(root, KEEP)
    draw_art(root / "art/p1.png", "grey", size=(800, 600), shape="figure")
    draw_art(root / "art/p2.png", "midnightblue", size=(800, 600), shape="tower")
    build(load_project(root), BuildRequest(output=root / "out.pdf", report=False))
    return root


@pytest.mark.slow
def test_keep_colours_keeps_the_panels_chroma_and_lighting_its_light(kept: Path) -> None:
    art = {label: np.asarray(Image.open(kept / f"art/{name}.png").convert("RGB"), np.float64)
           for label, name in (("1.1", "p1"), ("1.2", "p2"))}
    styled = {label: _panel(kept, label) for label in art}
    for label in art:
        art[label] = np.asarray(Image.fromarray(art[label].astype(np.uint8)).resize(
            styled[label].shape[1::-1], Image.Resampling.LANCZOS), np.float64)
    # colours: the figure's orange head and yellow body keep their chroma within 0.03
    # (the style's luminance may push a few pixels out of gamut)
    head = (slice(int(0.12 * styled["1.1"].shape[0]), int(0.4 * styled["1.1"].shape[0])),
            slice(int(0.36 * styled["1.1"].shape[1]), int(0.56 * styled["1.1"].shape[1])))
    assert np.abs(_chroma(styled["1.1"][head]) - _chroma(art["1.1"][head])).max() < 0.03
    # lighting: the night panel stays as dark as the art on average
    luma = [0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
            for x in (styled["1.2"], art["1.2"])]
    assert abs(luma[0].mean() - luma[1].mean()) < 12, (luma[0].mean(), luma[1].mean())


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> dict[str, Path]:
    """The same night panel (1.2) built with the default keep and with keep = "none"."""
    roots = {}
    for keep, manifest in (("default", PRETRAINED),
                           ("none", PRETRAINED.replace('[build]\n', '[build]\nkeep = "none"\n'))):
        root = tmp_path_factory.mktemp(f"night-{keep}")
        write_project(root, manifest)
        draw_art(root / "art/p1.png", "lightyellow", size=(800, 600), shape="figure")
        draw_art(root / "art/p2.png", "midnightblue", size=(800, 600), shape="tower")
        build(load_project(root), BuildRequest(output=root / "out.pdf", report=False))
        roots[keep] = root
    return roots


@pytest.mark.slow
def test_by_default_a_panel_drawn_dark_prints_dark(nights: dict[str, Path]) -> None:
    """keep = "auto" (the default): the night panel keeps the art's light, where the style
    alone (keep = "none") lifts it; the daylight panel is the style's."""
    def luma(x: np.ndarray) -> float:
        return float((0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]).mean())

    art = luma(np.asarray(Image.open(nights["default"] / "art/p2.png").convert("RGB"), np.float64))
    night, lifted = (luma(_panel(nights[k], "1.2")) for k in ("default", "none"))
    assert lifted - art > 20, (lifted, art)  # the style alone turns the night pale
    assert abs(night - art) < 12, (night, art)
    assert load_project(nights["default"]).comic.build.keep == "auto"


@pytest.fixture(scope="module")
def colours(tmp_path_factory) -> dict[str, Path]:
    """The same comic built keeping its elements' own colours (the default) and restyling
    them (element_colours = "restyle")."""
    roots = {}
    for name, manifest in (("keep", PRETRAINED), ("restyle", PRETRAINED.replace(
            '[build]\n', '[build]\nelement_colours = "restyle"\n'))):
        root = tmp_path_factory.mktemp(f"colours-{name}")
        write_project(root, manifest)
        build(load_project(root), BuildRequest(output=root / "out.pdf", report=False))
        roots[name] = root
    return roots


@pytest.mark.slow
def test_an_elements_own_colours_print_as_drawn_unless_restyled(colours: dict[str, Path]) -> None:
    """Mara's yellow body (her reference's colours, on a plain background) keeps the art's
    chroma inside the region the build found for her; restyled, it takes the style's."""
    art = np.asarray(Image.open(colours["keep"] / "art/p1.png").convert("RGB"), np.float64)
    printed = {name: _panel(root, "1.1") for name, root in colours.items()}
    height, width = printed["keep"].shape[:2]
    art = np.asarray(Image.fromarray(art.astype(np.uint8)).resize((width, height)), np.float64)
    # The body is drawn at x 45-65, y 40-85 of 120 x 90: inside it, clear of its edges.
    body = (slice(int(45 / 90 * height), int(80 / 90 * height)),
            slice(int(48 / 120 * width), int(62 / 120 * width)))
    error = {name: np.abs(_chroma(styled[body]) - _chroma(art[body])).max()
             for name, styled in printed.items()}
    print(f"body chroma error: {error}")
    assert error["keep"] < 0.03 < error["restyle"], error


@pytest.mark.slow
def test_an_element_colours_edit_restyles_only_the_panels_showing_it(tmp_path: Path,
                                                                     capsys) -> None:
    write_project(tmp_path, TINY)
    build(load_project(tmp_path), BuildRequest(output=tmp_path / "out.pdf", report=False))
    before = {label: _panel(tmp_path, label) for label in ("1.1", "1.2")}
    manifest = tmp_path / "comic.toml"
    manifest.write_text(manifest.read_text().replace(
        'references = ["art/mara.png"]\n', 'references = ["art/mara.png"]\ncolours = "restyle"\n'),
        encoding="utf-8")
    assert run_build(BuildRequest(path=tmp_path, output=tmp_path / "out.pdf", report=False,
                                  explain=True, quiet=True)) == 0
    explained = capsys.readouterr().out
    style_line = next(line for line in explained.splitlines() if line.startswith("style "))
    assert "(panel 1.1 kept colours changed)" in style_line, style_line  # Mara is in 1.1 only
    assert np.array_equal(_panel(tmp_path, "1.2"), before["1.2"])
    assert not np.array_equal(_panel(tmp_path, "1.1"), before["1.1"])
