"""Colour locating: an element drawn on a plain background is boxed in a panel where its
colours gather (histogram back-projection), even when its head is weak."""

from __future__ import annotations

import torch

from comicc.ml.backbone import EMBED_DIM
from comicc.ml.classifiers import (
    ClassifierBank,
    colour_box,
    colour_models,
    colour_regions,
    find_regions,
    framed_references,
)

PAPER = torch.tensor([0.97, 0.96, 0.93])
GRASS = torch.tensor([0.45, 0.75, 0.3])
SKY = torch.tensor([0.6, 0.8, 0.95])
ORANGE = torch.tensor([0.95, 0.45, 0.1])
BLUE = torch.tensor([0.15, 0.3, 0.85])


def fill(colour: torch.Tensor, h: int, w: int) -> torch.Tensor:
    return colour.view(3, 1, 1).expand(3, h, w).clone()


def drawing(colour: torch.Tensor) -> torch.Tensor:
    """A reference: a blob of `colour` with a dark outline on paper."""
    image = fill(PAPER, 32, 32)
    image[:, 8:24, 6:26] = 0.1
    image[:, 9:23, 7:25] = colour.view(3, 1, 1)
    return image


def landscape(things: dict[str, tuple[torch.Tensor, tuple[int, int, int, int]]]) -> torch.Tensor:
    """A 60x40 (h x w) panel, sky over grass, with coloured blobs at (x, y, w, h) pixels."""
    image = fill(SKY, 60, 40)
    image[:, 30:] = GRASS.view(3, 1, 1)
    for colour, (x, y, w, h) in things.values():
        image[:, y : y + h, x : x + w] = colour.view(3, 1, 1)
    return image


def comic():
    references = {"fox": [drawing(ORANGE)], "bird": [drawing(BLUE)]}
    fox, bird = (ORANGE, (22, 40, 8, 5)), (BLUE, (5, 10, 6, 3))
    panels = [
        landscape({"fox": fox}),
        landscape({"bird": bird}),
        landscape({"fox": fox, "bird": bird}),
        landscape({}),
    ]
    targets = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0]])
    return references, panels, targets


def test_colour_box_finds_each_element_in_a_shared_panel():
    references, panels, targets = comic()
    models = colour_models(["fox", "bird"], references, panels, targets)
    assert set(models) == {"fox", "bird"}
    x, y, w, h = colour_box(models["fox"], panels[2])
    assert x <= 26 / 40 <= x + w and y <= 42.5 / 60 <= y + h  # the fox's centre
    assert w * h < 0.15  # and not much more than the fox (3 % of the panel)
    x, y, w, h = colour_box(models["bird"], panels[2])
    assert x <= 8 / 40 <= x + w and y <= 11.5 / 60 <= y + h


def test_colour_box_is_none_where_nothing_has_the_element_colours():
    references, panels, targets = comic()
    models = colour_models(["fox", "bird"], references, panels, targets)
    assert colour_box(models["fox"], panels[3]) is None


def test_no_colour_model_without_a_plain_background_reference():
    references, panels, targets = comic()
    references["fox"] = [panels[0]]  # a scene: nothing to cut out
    assert set(colour_models(["fox", "bird"], references, panels, targets)) == {"bird"}


def test_colours_box_what_weak_heads_cannot(backbone):
    references, panels, targets = comic()
    dim = EMBED_DIM
    bank = ClassifierBank(
        backbone, ["fox", "bird"], torch.zeros(2, dim), torch.full((2,), -5.0),
        torch.zeros(dim), torch.ones(dim), 64, weak=["fox", "bird"],
    )  # fmt: skip
    placed = [{}, {}, {"bird": (0.1, 0.1, 0.2, 0.1)}, {}]
    assert find_regions(bank, panels, targets, placed) == [{}, {}, {}, {}]  # weak heads: none
    found = colour_regions(bank.element_ids, references, panels, targets, placed)
    assert [sorted(boxes) for boxes in found] == [["fox"], ["bird"], ["fox"], []]


def test_a_sky_in_the_rim_colour_of_a_drawing_is_not_the_element(monkeypatch):
    """A drawing's anti-aliased rim mixes its colour with the paper's (orange + cream =
    salmon). A dusk sky of that salmon, only in panels the fox is in, must not be its box."""
    import comicc.ml.classifiers as classifiers

    salmon = (ORANGE + PAPER) / 2
    soft = fill(PAPER, 32, 32)
    soft[:, 7:25, 5:27] = salmon.view(3, 1, 1)  # the rim, one pixel wide
    soft[:, 8:24, 6:26] = ORANGE.view(3, 1, 1)
    references = {"fox": [soft], "bird": [drawing(BLUE)]}
    dusk = landscape({"fox": (ORANGE, (22, 40, 8, 5))})
    dusk[:, 24:42] = salmon.view(3, 1, 1)  # the glow at the horizon the fox stands on
    dusk[:, 40:45, 22:30] = ORANGE.view(3, 1, 1)
    panels = [dusk, landscape({"bird": (BLUE, (5, 10, 6, 3))}), landscape({})]
    targets = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    x, y, w, h = colour_box(colour_models(["fox", "bird"], references, panels, targets)["fox"], dusk)
    assert x <= 26 / 40 <= x + w and y <= 42.5 / 60 <= y + h
    assert y > 36 / 60 and w * h < 0.15, (x, y, w, h)  # not the glow: about the fox's size
    # Without the rim left out, the glow's colour says "fox" and the box spans the sky.
    monkeypatch.setattr(classifiers, "COLOUR_ERODE", 0)
    x, y, w, h = colour_box(colour_models(["fox", "bird"], references, panels, targets)["fox"], dusk)
    assert y < 30 / 60


def test_heads_train_on_the_crops_colours_find(monkeypatch, backbone):
    """train_and_locate: the colour boxes are found before training and the heads learn
    from those crops (the manifest's box wins where it gives one); the regions it returns
    are the found ones, for every present cell the manifest does not place."""
    import comicc.ml.classifiers as classifiers
    from comicc.ml.presets import PRESETS

    references, panels, targets = comic()
    given = [{}, {}, {"bird": (0.1, 0.1, 0.2, 0.1)}, {}]
    seen: list = []
    real = classifiers.train_for_preset

    def spy(backbone, references, panels, targets, regions, preset, **kw):
        seen.append([dict(r) for r in regions])
        return real(backbone, references, panels, targets, regions, preset, **kw)

    monkeypatch.setattr(classifiers, "train_for_preset", spy)
    preset = PRESETS["draft"].with_overrides(classifier_steps=5, classifier_views=2)
    bank, found = classifiers.train_and_locate(backbone, references, panels, targets, given,
                                               preset, seed=0, device="cpu")
    trained = seen[0]
    assert sorted(trained[0]) == ["fox"] and sorted(trained[1]) == ["bird"]
    assert trained[2]["bird"] == (0.1, 0.1, 0.2, 0.1) and "fox" in trained[2]
    assert trained[3] == {}
    assert [sorted(boxes) for boxes in found] == [["fox"], ["bird"], ["fox"], []]
    x, y, w, h = found[2]["fox"]
    assert x <= 26 / 40 <= x + w and y <= 42.5 / 60 <= y + h
    assert set(bank.element_ids) == {"fox", "bird"}
    # The colour models stay with the bank, for the loss's colour term: fox pixels are fox.
    assert set(bank.colour_models) == {"fox", "bird"}
    fox_pixels = classifiers.colour_pixels(bank.colour_models["fox"], panels[2])
    assert fox_pixels[42, 26] and not fox_pixels[5, 5]


def test_heads_learn_a_reference_in_a_scene_from_its_crop_unless_the_element_is_a_scene(
        monkeypatch, backbone):
    """train_and_locate hands the heads a character's reference drawn in a scene framed to
    its colours; an element named in `scenes` (a setting) keeps its references whole."""
    import comicc.ml.classifiers as classifiers
    from comicc.ml.presets import PRESETS

    references, panels, targets = comic()
    scene = landscape({"fox": (ORANGE, (22, 40, 8, 5))})
    references["fox"].append(scene)
    seen: list = []
    real = classifiers.train_for_preset

    def spy(backbone, references, panels, targets, regions, preset, **kw):
        seen.append({e: [r.shape[-2:] for r in drawings] for e, drawings in references.items()})
        return real(backbone, references, panels, targets, regions, preset, **kw)

    monkeypatch.setattr(classifiers, "train_for_preset", spy)
    preset = PRESETS["draft"].with_overrides(classifier_steps=2, classifier_views=2)
    for scenes in ((), ("fox",)):
        classifiers.train_and_locate(backbone, references, panels, targets, [{}] * 4, preset,
                                     seed=0, device="cpu", scenes=scenes)
    framed, whole = seen
    assert framed["fox"][0] == whole["fox"][0] == (32, 32)  # on paper: as drawn
    assert framed["fox"][1][0] * framed["fox"][1][1] < 0.1 * 60 * 40  # the fox's box
    assert whole["fox"][1] == (60, 40)


def test_a_shade_off_the_references_colour_is_still_the_elements_unless_the_rest_wears_it():
    """A panel drawn a shade off the reference's colour falls in the next colour bin; it is
    still the element's colour, as long as the panels without the element do not wear it."""
    from comicc.ml.classifiers import COLOUR_LEVELS, colour_pixels

    shade = torch.tensor([0.97, 0.46, 0.11])  # ORANGE's bin is (10, 5, 1), this one's (11, 5, 1)
    far = torch.tensor([0.8, 0.45, 0.1])  # as far from ORANGE as a different colour
    references, panels, targets = comic()
    panel = landscape({"fox": (shade, (22, 40, 8, 5)), "other": (far, (2, 2, 4, 4))})
    model = colour_models(["fox", "bird"], references, panels, targets)["fox"]
    q = (shade * (COLOUR_LEVELS - 1)).round().long()
    assert model[(q[0] * COLOUR_LEVELS + q[1]) * COLOUR_LEVELS + q[2], 0] <= 0  # not by its bin
    pixels = colour_pixels(model, panel)
    assert pixels[40:45, 22:30].all() and not pixels[2:6, 2:6].any() and not pixels[50, 5]
    # The bird's panel wears the shade: then it is a colour of the rest, not the fox's.
    panels[1] = landscape({"bird": (BLUE, (5, 10, 6, 3)), "rust": (shade, (20, 40, 10, 10))})
    model = colour_models(["fox", "bird"], references, panels, targets)["fox"]
    assert not colour_pixels(model, panel)[40:45, 22:30].any()


INK = torch.tensor([0.1, 0.1, 0.1])
TEAL = torch.tensor([0.1, 0.6, 0.65])


def inked(colour: torch.Tensor, rim: torch.Tensor | None = None) -> torch.Tensor:
    """A reference: a blob of `colour` in a 2-pixel ink outline on paper, with a 1-pixel
    ring of `rim` (the anti-aliasing where the ink meets the fill) inside the outline."""
    image = fill(PAPER, 32, 32)
    image[:, 6:26, 4:28] = INK.view(3, 1, 1)
    if rim is not None:
        image[:, 8:24, 6:26] = rim.view(3, 1, 1)
    image[:, 9:23, 7:25] = colour.view(3, 1, 1)
    return image


WHITE = torch.tensor([1.0, 1.0, 1.0])


def test_ink_blends_and_common_colours_are_an_elements_only_beside_its_own():
    """The ink every element is outlined in, the blend of ink with a fill, and a colour the
    panels without the element wear nearly as often (a white pocket, white clouds) are rim
    colours: the element's where they border its fill, not in a tree's outline, a night
    hill's grass strokes or a cloud elsewhere in the panel."""
    from comicc.ml.classifiers import COLOUR_LEVELS, colour_pixels

    blend = 0.6 * INK + 0.4 * TEAL
    gardener = inked(TEAL, blend)
    gardener[:, 14:18, 14:18] = WHITE.view(3, 1, 1)  # her apron's pocket
    bird = fill(PAPER, 32, 32)  # drawn in lines three times as thick as hers
    bird[:, 2:30, 1:31] = INK.view(3, 1, 1)
    bird[:, 9:23, 7:25] = BLUE.view(3, 1, 1)
    references = {"gardener": [gardener], "bird": [bird]}
    panels = [landscape({"cloud": (WHITE, (2, 2, 10, 12))}), landscape({})]
    targets = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    models = colour_models(["gardener", "bird"], references, panels, targets)
    model = models["gardener"]

    def row(colour: torch.Tensor, of: str = "gardener") -> torch.Tensor:
        q = (colour * (COLOUR_LEVELS - 1)).round().long()
        return models[of][(q[0] * COLOUR_LEVELS + q[1]) * COLOUR_LEVELS + q[2]]

    assert all(row(c)[0] > 0 for c in (INK, blend, TEAL, WHITE))  # all telling, a little
    assert [int(row(c)[5]) for c in (INK, blend, WHITE, TEAL)] == [1, 1, 1, 0]  # rims but teal
    assert row(INK, "bird")[0] > 0 and row(INK, "bird")[5] == 1  # her thin ink is its ink too
    panel = fill(GRASS, 60, 150)  # a rim reaches 2% of the width: 3 pixels
    panel[:, 20:36, 8:22] = INK.view(3, 1, 1)  # the gardener, outlined and rimmed
    panel[:, 22:34, 10:20] = blend.view(3, 1, 1)
    panel[:, 23:33, 11:19] = TEAL.view(3, 1, 1)
    panel[:, 10:50, 120:122] = INK.view(3, 1, 1)  # a tree trunk's outline
    panel[:, 45:47, 60:90] = blend.view(3, 1, 1)  # grass strokes that wear the blend
    panel[:, 5:12, 70:100] = WHITE.view(3, 1, 1)  # a cloud
    panel[:, 27:29, 14:16] = WHITE.view(3, 1, 1)  # her pocket
    pixels = colour_pixels(model, panel)
    assert pixels[20:36, 8:22].all()  # her fill, pocket, rim and outline
    assert not pixels[:, 40:].any()  # not the tree, the strokes or the cloud
    box = colour_box(model, panel)
    assert box is not None and box[0] + box[2] <= 30 / 150


def test_within_a_reach_is_a_square_windows_max():
    """`_within` (a summed-area table) marks what a max pool over the square window does."""
    import torch.nn.functional as F

    from comicc.ml.classifiers import _within

    gen = torch.Generator().manual_seed(0)
    for h, w, reach in [(40, 30, 3), (7, 5, 1), (9, 60, 6)]:
        mask = torch.rand(h, w, generator=gen) > 0.97
        pooled = F.max_pool2d(mask.float()[None, None], 2 * reach + 1, stride=1, padding=reach)
        assert torch.equal(_within(mask, reach), pooled[0, 0] > 0)
    assert not _within(torch.zeros(4, 4, dtype=torch.bool), 2).any()


def test_a_reference_set_in_a_scene_is_framed_to_its_element():
    """The heads learn a figure drawn small on grass under a sky from its crop, not from the
    scene; a drawing on paper stays whole, and so does an element without a colour model."""
    references, panels, targets = comic()
    models = colour_models(["fox", "bird"], references, panels, targets)
    scene = landscape({"fox": (ORANGE, (22, 40, 8, 5))})
    framed = framed_references({"fox": [references["fox"][0], scene], "bird": [scene]},
                               {"fox": models["fox"]})
    assert framed["fox"][0] is references["fox"][0]
    h, w = framed["fox"][1].shape[-2:]
    assert h * w < 0.1 * 60 * 40  # the fox's box, not the landscape
    assert (framed["fox"][1] - ORANGE.view(3, 1, 1)).norm(dim=0).lt(0.05).float().mean() > 0.5
    assert framed["bird"][0] is scene  # no model given for it: kept whole


def test_colour_box_keeps_the_thin_parts_its_average_shaves_off():
    """Ears and a tail thinner than the averaging window are still the fox: its box reaches
    their tips, and not an orange flower beyond its reach."""
    references, panels, targets = comic()
    model = colour_models(["fox", "bird"], references, panels, targets)["fox"]
    panel = fill(GRASS, 120, 200)  # the window: 2 % of the width, 5 pixels on a 2-pixel grid
    panel[:, 60:76, 80:110] = ORANGE.view(3, 1, 1)  # the body
    panel[:, 50:60, 84:86] = ORANGE.view(3, 1, 1)  # two ears, 2 pixels wide
    panel[:, 50:60, 104:106] = ORANGE.view(3, 1, 1)
    panel[:, 70:72, 110:120] = ORANGE.view(3, 1, 1)  # a tail, 2 pixels high
    panel[:, 100:103, 20:23] = ORANGE.view(3, 1, 1)  # a flower far off
    x, y, w, h = colour_box(model, panel)
    assert round(y * 120) <= 50 and round((x + w) * 200) >= 120  # the ears' tips, the tail's end
    assert round(x * 200) >= 70 and round((y + h) * 120) <= 80  # not the flower
