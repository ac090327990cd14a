"""The `comicc init` starter comic and the sample comics: valid, complete, reproducible."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from comicc.manifest.models import Comic
from comicc.starter import (
    CAT_EYE,
    COAT,
    ROBOT,
    STARTER_PIP_CLOSE,
    TOWER_RED,
    starter_manifest,
    write_starter_comic,
)

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_NAMES = ["lighthouse", "meadow", "photos"]
# The samples whose manifests give `regions`; meadow leaves them to the build (truth.json).
REGION_SAMPLES = ["lighthouse", "photos"]
# A colour only one element wears, and how close a pixel must be to count as it.
SIGNATURES = {"mara": (COAT, 30), "fathom": (CAT_EYE, 30), "lighthouse": (TOWER_RED, 8)}


def load(directory: Path) -> Comic:
    with open(directory / "comic.toml", "rb") as f:
        return Comic.model_validate(tomllib.load(f))


def referenced_files(comic: Comic) -> list[str]:
    files = [panel.art for _, _, panel in comic.panels()]
    files += [ref for element in comic.elements.values() for ref in element.references]
    if comic.comic.style_image:
        files.append(comic.comic.style_image)
    return files


def target_rows(comic: Comic) -> dict[str, list[int]]:
    return {
        element: [int(element in panel.elements) for _, _, panel in comic.panels()]
        for element in comic.elements
    }


def signature_mask(path: Path, colour: tuple[int, int, int], tolerance: float) -> np.ndarray:
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int32)
    return np.sqrt(((pixels - np.array(colour)) ** 2).sum(-1)) <= tolerance


def region_mask(shape: tuple[int, ...], region: list[float]) -> np.ndarray:
    height, width = shape[:2]
    x, y, w, h = region
    mask = np.zeros((height, width), dtype=bool)
    mask[round(y * height) : round((y + h) * height), round(x * width) : round((x + w) * width)] = (
        True
    )
    return mask


def load_make_art(name: str) -> ModuleType:
    path = SAMPLES / name / "make_art.py"
    spec = importlib.util.spec_from_file_location(f"make_art_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def files_under(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --- the starter ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def starter(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """One starter comic, written once and only read by the tests that use it."""
    root = tmp_path_factory.mktemp("starter")
    return root, write_starter_comic(root, "My First Comic")


def test_starter_writes_a_complete_valid_comic(starter: tuple[Path, list[Path]]) -> None:
    tmp_path, written = starter
    comic = load(tmp_path)
    assert comic.comic.title == "My First Comic"
    assert all(path.is_file() for path in written)
    names = {str(path.relative_to(tmp_path)) for path in written}
    assert {"comic.toml", ".gitignore", "README.md"} <= names
    assert set(referenced_files(comic)) <= names
    assert len(comic.page) == 1 and len(comic.page[0].panel) == 3
    assert len(comic.elements) == 2
    assert all(len(element.references) >= 2 for element in comic.elements.values())
    kinds = {b.kind for _, _, panel in comic.panels() for b in panel.balloons}
    assert "caption" in kinds and "speech" in kinds
    assert comic.comic.direction and all(panel.direction for _, _, panel in comic.panels())
    assert (tmp_path / "comic.toml").read_text().startswith("#:schema ")
    ignored = (tmp_path / ".gitignore").read_text().split()
    assert {".comicc/", "*.pdf", "*.cbz", "*.report.html", "*.report/"} <= set(ignored)
    assert "comicc build" in (tmp_path / "README.md").read_text()


def test_starter_target_matrix_has_ones_and_zeros_in_every_row(
    starter: tuple[Path, list[Path]],
) -> None:
    for element, row in target_rows(load(starter[0])).items():
        assert 0 in row and 1 in row, element


def test_starter_region_frames_the_robot(starter: tuple[Path, list[Path]]) -> None:
    comic = load(starter[0])
    art = starter[0] / comic.page[0].panel[1].art
    blue = signature_mask(art, ROBOT, 30)
    assert list(comic.page[0].panel[1].regions["pip"]) == list(STARTER_PIP_CLOSE)
    inside = blue & region_mask(blue.shape, comic.page[0].panel[1].regions["pip"])
    assert blue.sum() > 1000 and inside.sum() / blue.sum() > 0.98


def test_starter_refuses_to_overwrite(tmp_path: Path) -> None:
    write_starter_comic(tmp_path, "First")
    with pytest.raises(FileExistsError):
        write_starter_comic(tmp_path, "Second")
    assert load(tmp_path).comic.title == "First"


def test_starter_leaves_an_existing_manifest_alone(tmp_path: Path) -> None:
    (tmp_path / "comic.toml").write_text("# mine\n")
    with pytest.raises(FileExistsError):
        write_starter_comic(tmp_path, "Mine")
    assert (tmp_path / "comic.toml").read_text() == "# mine\n"
    assert not (tmp_path / "art").exists()


def test_starter_keeps_the_authors_readme_and_gitignore(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("my notes\n")
    (tmp_path / ".gitignore").write_text("venv/\n")
    written = write_starter_comic(tmp_path, "Kept")
    assert (tmp_path / "README.md").read_text() == "my notes\n"
    assert (tmp_path / ".gitignore").read_text() == "venv/\n"
    assert tmp_path / "README.md" not in written and tmp_path / ".gitignore" not in written


def test_starter_is_deterministic_and_small(
    starter: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    write_starter_comic(tmp_path, "My First Comic")
    first, second = files_under(starter[0]), files_under(tmp_path)
    assert first == second
    assert sum(len(data) for data in first.values()) < 300_000


@pytest.mark.parametrize(
    "title", ['Say "hi"', "back\\slash", "Ünïcödé 漫画 🚀", "tab\there", "two\nlines", "a\x7fb"]
)
def test_starter_manifest_keeps_any_title(title: str) -> None:
    assert tomllib.loads(starter_manifest(title))["comic"]["title"] == title


def test_starter_rejects_an_empty_title(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_starter_comic(tmp_path, "")
    assert list(tmp_path.iterdir()) == []


# --- the samples ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_is_valid_and_complete(name: str) -> None:
    root = SAMPLES / name
    comic = load(root)
    for relative in referenced_files(comic):
        path = (root / relative).resolve()
        assert path.is_file(), relative
        assert path.is_relative_to(root), relative
    assert len(comic.elements) == 3
    assert all(len(element.references) >= 2 for element in comic.elements.values())
    assert comic.comic.direction and comic.comic.style_image
    for element, row in target_rows(comic).items():
        assert 0 in row and 1 in row, element
    for _, _, panel in comic.panels():
        assert panel.direction, panel.art
        assert set(panel.regions) <= set(panel.elements), panel.art
        speakers = {b.speaker for b in panel.balloons if b.speaker}
        assert speakers <= set(panel.elements), panel.art
    # The sample's own files; `make demo` (run before the tests) leaves its build cache there.
    total = sum(p.stat().st_size for p in root.rglob("*")
                if p.is_file() and ".comicc" not in p.relative_to(root).parts)
    assert total < 2_000_000


def test_lighthouse_sample_shows_off_the_manifest() -> None:
    comic = load(SAMPLES / "lighthouse")
    assert len(comic.page) >= 2 and len(comic.panels()) >= 7
    kinds = {b.kind for _, _, panel in comic.panels() for b in panel.balloons}
    assert kinds == {"speech", "thought", "whisper", "shout", "caption", "sfx"}
    assert sum(bool(panel.regions) for _, _, panel in comic.panels()) >= 3


def test_photos_sample_covers_every_combination_of_elements() -> None:
    comic = load(SAMPLES / "photos")
    combinations = {frozenset(panel.elements) for _, _, panel in comic.panels()}
    assert len(combinations) == 2 ** len(comic.elements)


@pytest.mark.parametrize("name", REGION_SAMPLES)
def test_sample_regions_are_where_make_art_draws(name: str) -> None:
    drawn = load_make_art(name).REGIONS
    comic = load(SAMPLES / name)
    written = {panel.art: dict(panel.regions) for _, _, panel in comic.panels() if panel.regions}
    assert written == {art: {k: list(v) for k, v in boxes.items()} for art, boxes in drawn.items()}


def test_lighthouse_art_matches_its_target_matrix() -> None:
    """Each element's signature colour shows up exactly in the panels that list it."""
    root = SAMPLES / "lighthouse"
    comic = load(root)
    for _, _, panel in comic.panels():
        for element, (colour, tolerance) in SIGNATURES.items():
            mask = signature_mask(root / panel.art, colour, tolerance)
            if element in panel.elements:
                assert mask.sum() >= 20, (panel.art, element)
            else:
                assert mask.sum() < 10, (panel.art, element)
            if element in panel.regions:
                inside = mask & region_mask(mask.shape, panel.regions[element])
                assert inside.sum() / mask.sum() > 0.95, (panel.art, element)
    for element, (colour, tolerance) in SIGNATURES.items():
        for reference in comic.elements[element].references:
            assert signature_mask(root / reference, colour, tolerance).sum() >= 20, reference


@pytest.fixture(scope="module")
def meadow() -> tuple[Comic, ModuleType, dict]:
    """The meadow sample's manifest, its make_art module and its truth.json."""
    root = SAMPLES / "meadow"
    return load(root), load_make_art("meadow"), json.loads((root / "truth.json").read_text())


def test_meadow_truth_is_where_make_art_draws(meadow: tuple[Comic, ModuleType, dict]) -> None:
    """No regions in the manifest; truth.json boxes every listed element of every panel, as
    make_art.py draws them now."""
    comic, make_art, truth = meadow
    assert truth == json.loads(json.dumps(make_art.truth()))
    panels = {f"{p + 1}.{j + 1}": panel for p, j, panel in comic.panels()}
    assert set(truth["panels"]) == set(panels)
    for label, panel in panels.items():
        assert not panel.regions, label
        assert truth["panels"][label]["art"] == panel.art
        boxes = truth["panels"][label]["boxes"]
        assert set(boxes) == set(panel.elements), label
        for x, y, w, h in boxes.values():
            assert 0 <= x < x + w <= 1 and 0 <= y < y + h <= 1, label


def test_meadow_art_matches_its_truth(meadow: tuple[Comic, ModuleType, dict]) -> None:
    """Each character's colour shows up in exactly the panels that list it, inside its box;
    no scenery wears it; the references show it too."""
    comic, make_art, truth = meadow
    root = SAMPLES / "meadow"
    signatures = {"rufus": make_art.FOX, "skye": make_art.BIRD, "hazel": make_art.HAT}
    for p, j, panel in comic.panels():
        boxes = truth["panels"][f"{p + 1}.{j + 1}"]["boxes"]
        for element, colour in signatures.items():
            mask = signature_mask(root / panel.art, colour, 30)
            if element not in panel.elements:
                assert mask.sum() < 10, (panel.art, element)
                continue
            assert mask.sum() >= 20, (panel.art, element)
            inside = mask & region_mask(mask.shape, boxes[element])
            assert inside.sum() / mask.sum() > 0.98, (panel.art, element)
    for element, colour in signatures.items():
        for reference in comic.elements[element].references:
            assert signature_mask(root / reference, colour, 30).sum() >= 20, reference


def test_meadow_shows_each_character_small_and_large_and_a_dark_sky(
    meadow: tuple[Comic, ModuleType, dict],
) -> None:
    comic, _, truth = meadow
    widths = [box[2] for panel in truth["panels"].values() for box in panel["boxes"].values()]
    assert sum(0.1 <= w <= 0.2 for w in widths) >= 3 and sum(w >= 0.4 for w in widths) >= 3
    for element, row in target_rows(comic).items():
        assert row.count(0) >= 2 and row.count(1) >= 3, element
    directions = [panel.direction for _, _, panel in comic.panels()]
    assert any(d.startswith(("night", "dusk")) for d in directions)


def test_meadow_panels_fill_their_frames_at_300_dpi() -> None:
    """Drawn at each frame's aspect ratio and print size: shown whole, never warned about."""
    from comicc.manifest.load import load_project
    from comicc.page.art import cover_crop, effective_dpi
    from comicc.page.layout import layout_frames

    project = load_project(SAMPLES / "meadow")
    frames = [f.rect for p in range(len(project.comic.page))
              for f in layout_frames(project.comic, p, project.root)]
    for (_, _, panel), frame in zip(project.comic.panels(), frames, strict=True):
        size = Image.open(project.root / panel.art).size
        crop = cover_crop(size, frame)
        assert crop.width * crop.height >= 0.99 * size[0] * size[1], panel.art
        assert effective_dpi(crop, frame) >= project.comic.comic.dpi, panel.art


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_art_regenerates_byte_identically(name: str, tmp_path: Path) -> None:
    load_make_art(name).main(tmp_path)
    assert files_under(tmp_path / "art") == files_under(SAMPLES / name / "art")


# --- the demo ---------------------------------------------------------------------------------


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_a_build_with_its_cache_beside_the_output_writes_nothing_into_the_sample(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from comicc.cli import main

    sample = SAMPLES / "lighthouse"
    before = _tree(sample)
    out = tmp_path / "out"
    argv = ["build", str(sample), "-o", str(out / "lighthouse.pdf"), "--cache-dir",
            str(out / ".comicc"), "--backend", "none", "--explain"]
    assert main(argv) == 0
    assert main(argv) == 0
    assert _tree(sample) == before
    assert (out / "lighthouse.pdf").is_file() and (out / "lighthouse.report.html").is_file()
    assert (out / ".comicc" / "entries" / "pdf").is_dir()
    assert "pdf              reused" in capsys.readouterr().out  # the cache is found again


def test_make_demo_writes_its_book_and_cache_outside_the_sample() -> None:
    import shlex
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    repository = SAMPLES.parent
    dry = subprocess.run(["make", "-n", "demo"], cwd=repository,
                         capture_output=True, text=True, check=True).stdout
    [command] = [shlex.split(line) for line in dry.splitlines() if " build " in line]
    for flag in ("-o", "--cache-dir"):
        assert flag in command, command
        where = (repository / command[command.index(flag) + 1]).resolve()
        assert not where.is_relative_to(SAMPLES), (flag, where)
