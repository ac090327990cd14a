"""The classify stage's automatic regions: found for present elements the manifest does not
place, stored with the classifiers, merged under the manifest's regions by the style stage."""

from __future__ import annotations

from pathlib import Path

import pytest

from comicc.engine.style_stage import with_found_regions
from comicc.manifest.load import load_project
from comicc.manifest.matrix import panel_label
from tests.conftest import BASE_MANIFEST, write_project

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_regions_win_and_found_ones_fill_in():
    project = load_project(ROOT / "samples" / "lighthouse" / "comic.toml")
    given = [{k: tuple(v) for k, v in panel.regions.items()} for _, _, panel in project.comic.panels()]
    found = {
        "1.2": {"mara": (0.0, 0.0, 0.1, 0.1), "lighthouse": (0.1, 0.2, 0.3, 0.4)},
        "9.9": {"mara": (0.5, 0.5, 0.1, 0.1)},
    }  # no such panel: ignored
    merged = with_found_regions(project, given, found)
    assert len(merged) == len(given)
    assert merged[1]["mara"] == given[1]["mara"]  # the manifest's box, not the found one
    assert merged[1]["lighthouse"] == (0.1, 0.2, 0.3, 0.4)
    assert [m for j, m in enumerate(merged) if j != 1] == [g for j, g in enumerate(given) if j != 1]


@pytest.mark.slow
def test_classify_stage_finds_regions_for_present_elements_without_one(tmp_path):
    from comicc.engine.request import BuildRequest
    from comicc.engine.settings import resolve_settings
    from comicc.engine.style_stage import run_classify, training_data
    from comicc.ml.backbone import load_backbone
    from comicc.ml.classifiers import ClassifierBank, colour_models

    write_project(tmp_path, BASE_MANIFEST.replace('backend = "none"', 'backend = "gram"\nsize = 64'))
    project = load_project(tmp_path)
    settings = resolve_settings(project, BuildRequest(device="cpu"))
    outputs, meta = run_classify(project, settings, lambda message: None)
    bank_path = tmp_path / "bank.safetensors"
    bank_path.write_bytes(outputs["classifiers.safetensors"])
    bank = ClassifierBank.load(bank_path, load_backbone("cpu"))
    assert meta["regions"] == {
        label: {k: list(v) for k, v in boxes.items()} for label, boxes in bank.found_regions.items()
    }
    panels = list(project.comic.panels())
    data = training_data(project, 256)
    colours = colour_models(bank.element_ids, data.references, data.panels, data.targets)
    assert meta["regions"], meta  # the tiny comic gives no regions: every present element is boxed
    for label, boxes in meta["regions"].items():
        panel = next(panel for p, j, panel in panels if panel_label(p, j) == label)
        for element, (x, y, w, h) in boxes.items():
            assert element in panel.elements and element not in panel.regions
            # A weak head boxes nothing; its element's colours do when it has a plain reference.
            assert element not in bank.weak or element in colours
            assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 1 and y + h <= 1


def test_the_reports_classifier_figures_read_panels_at_the_detail_the_heads_learned_from():
    """The style loop trains at half the classify stage's side: a far-off figure there is a
    smudge its head cannot read, though the print shows it plainly. The report's raw and
    styled probabilities see the panels at the classify side, held as bytes."""
    import torch

    from comicc.engine.style_stage import _probabilities, _summary_panel, classify_side
    from comicc.ml.presets import PRESETS

    preset = PRESETS["draft"]
    side = classify_side(preset)
    assert side > preset.size
    image = torch.rand(3, 900, 600)
    panel = _summary_panel(image, preset)
    assert panel.shape == (3, side, side) and panel.dtype == torch.uint8

    class Recorder:
        def __init__(self) -> None:
            self.seen: list = []

        def probabilities(self, images, regions):
            self.seen.append((images.shape, images.dtype, float(images.max())))
            return torch.zeros(1, len(images))

    bank = Recorder()
    p = _probabilities(bank, [panel, panel], [{}, {}], torch.device("cpu"))
    assert p.shape == (1, 2)
    shape, dtype, top = bank.seen[0]
    assert shape == (2, 3, side, side) and dtype == torch.float32 and top <= 1.0
