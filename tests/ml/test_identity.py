"""Identity terms: inside an element's region, the styled panel keeps the art's colours and lines."""

import pytest
import torch

from comicc.ml.identity import edge_magnitude, element_masks, identity_terms


def _panel() -> torch.Tensor:
    art = torch.full((1, 3, 64, 64), 0.9)
    art[:, :, 20:44, 8:32] = torch.tensor([0.85, 0.2, 0.1]).view(1, 3, 1, 1)  # a red fox
    return art


def test_masks_cover_present_elements_boxes_and_whole_panels_without_one():
    rows, masks = element_masks([{"fox": (0.125, 0.3125, 0.375, 0.375)}, {}, {}],
                                [["fox"], ["fox"], []], 64, 64)
    assert rows.tolist() == [0, 1]  # nothing present in panel 2: no identity term
    assert masks[0].sum() == 24 * 24 and masks[0, 0, 20, 8] == 1 and masks[0, 0, 0, 0] == 0
    assert masks[1].sum() == 64 * 64  # present without a region: the whole panel


def test_each_element_has_its_own_mask_so_a_small_one_weighs_as_much_as_a_large_one():
    """A blue bird (8 x 8 px) beside a yellow gardener (32 x 32 px), each boxed with the same
    margin: the bird turning pale costs about as much as the gardener turning pale, though it
    covers a sixteenth of her area; under one mask for the panel it would cost a few %."""
    art = torch.full((1, 3, 64, 64), 0.3)
    art[:, :, 4:12, 4:12] = torch.tensor([0.1, 0.2, 0.9]).view(1, 3, 1, 1)
    art[:, :, 24:56, 24:56] = torch.tensor([0.95, 0.85, 0.1]).view(1, 3, 1, 1)
    regions = [{"bird": (2 / 64, 2 / 64, 12 / 64, 12 / 64), "hazel": (16 / 64, 16 / 64, 0.75, 0.75)}]
    rows, masks = element_masks(regions, [["bird", "hazel"]], 64, 64)
    assert rows.tolist() == [0, 0] and masks[0].sum() == 12 * 12 and masks[1].sum() == 48 * 48

    def cost(styled: torch.Tensor) -> torch.Tensor:
        return identity_terms(styled[rows], art[rows], masks)["colour"]

    pale_bird, pale_hazel = art.clone(), art.clone()
    pale_bird[:, :, 4:12, 4:12] = 0.8
    pale_hazel[:, :, 24:56, 24:56] = 0.8
    assert cost(art).sum().item() < 1e-6
    bird, hazel = cost(pale_bird), cost(pale_hazel)
    assert bird[0] > 0.5 and bird[1] < 1e-6 and hazel[1] > 0.5 and hazel[0] < 1e-6
    assert bird.sum() > 0.5 * hazel.sum()
    union = masks.amax(dim=0, keepdim=True)
    shared = [identity_terms(x, art, union)["colour"].sum() for x in (pale_bird, pale_hazel)]
    assert shared[0] < 0.1 * shared[1]


def test_colour_term_sees_the_fox_turn_grey_only_inside_its_region():
    art = _panel()
    _, mask = element_masks([{"fox": (0.125, 0.3125, 0.375, 0.375)}], [["fox"]], 64, 64)
    grey_fox = art.clone()
    grey_fox[:, :, 20:44, 8:32] = 0.45
    recoloured_sky = art.clone()
    recoloured_sky[:, :, :16, :] = torch.tensor([0.2, 0.3, 0.9]).view(1, 3, 1, 1)
    same = identity_terms(art, art, mask)
    fox = identity_terms(grey_fox, art, mask)
    sky = identity_terms(recoloured_sky, art, mask)
    assert same["colour"].item() < 1e-6 and same["edges"].item() < 1e-6
    assert fox["colour"].item() > 1.0
    assert sky["colour"].item() < 0.05 * fox["colour"].item()


def test_edge_term_sees_a_blurred_outline():
    art = _panel()
    _, mask = element_masks([{"fox": (0.0, 0.0, 1.0, 1.0)}], [["fox"]], 64, 64)
    blurred = torch.nn.functional.avg_pool2d(art, 9, stride=1, padding=4, count_include_pad=False)
    assert identity_terms(blurred, art, mask)["edges"].item() > 0.3
    assert edge_magnitude(art)[0, 0, 32, 8] > edge_magnitude(art)[0, 0, 32, 20]


def test_gradients_reach_the_styled_panel():
    art = _panel()
    styled = torch.rand_like(art).requires_grad_(True)
    _, mask = element_masks([{"fox": (0.125, 0.3125, 0.375, 0.375)}], [["fox"]], 64, 64)
    terms = identity_terms(styled, art, mask)
    (terms["colour"] + terms["edges"]).sum().backward()
    inside, outside = styled.grad[..., 20:44, 8:32], styled.grad[..., :10, 40:]
    assert inside.abs().sum() > 0
    assert outside.abs().sum() < 1e-3 * inside.abs().sum() + 1e-6


def test_structure_is_zero_on_the_art_and_grows_as_the_crop_loses_its_shapes(backbone):
    """crop_terms' structure: the content loss of each present element's crop, 0 for the
    art itself, larger for a blurred crop than for a slightly tinted one, and the art's
    features are computed once per (panel, element)."""
    import torch.nn.functional as F

    from comicc.ml.identity import crop_terms

    torch.manual_seed(0)
    art = torch.rand(1, 3, 64, 64)
    art[:, :, 16:48, 16:48] = torch.tensor([0.9, 0.2, 0.1]).view(1, 3, 1, 1)
    regions, present = [{"fox": (0.2, 0.2, 0.6, 0.6)}], [["fox"]]
    embeddings, content = {}, {}

    def structure(styled):
        return crop_terms(backbone, styled, art, regions, present, 64, [3], embeddings, content,
                          structure=True)[1].item()

    blurred = F.avg_pool2d(art, 9, stride=1, padding=4, count_include_pad=False)
    assert structure(art) == pytest.approx(0.0, abs=1e-6)
    assert 0 < structure(art * 0.95 + 0.05 * torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1)) \
        < structure(blurred)
    assert set(content) == set(embeddings) == {(3, "fox")}


def test_structure_alone_runs_no_embedding(backbone, monkeypatch):
    """With the identity weight at 0 the build asks crop_terms for structure only: the same
    content loss, and no embedding of the art or of the styled crop is computed."""
    from comicc.ml.identity import crop_terms

    torch.manual_seed(1)
    art, styled = torch.rand(2, 3, 64, 64).split(1)
    regions, present = [{"fox": (0.1, 0.2, 0.5, 0.6)}], [["fox"]]
    both = crop_terms(backbone, styled, art, regions, present, 64, structure=True)
    calls = []
    monkeypatch.setattr(backbone, "embed", lambda x: calls.append(x))
    embeddings, content = {}, {}
    similarity, structure = crop_terms(backbone, styled, art, regions, present, 64, [0],
                                       embeddings, content, structure=True, similarity=False)
    assert similarity is None and calls == [] and embeddings == {}
    assert set(content) == {(0, "fox")}
    assert torch.allclose(structure, both[1])


def test_own_colours_hold_the_element_and_leave_the_sky_in_its_box_to_the_style():
    """With the element's own colours as the focus, a box that takes in the sky around a
    small fox costs nothing when the sky is restyled and as much as before when the fox
    turns grey; where its colours are not in the box (a night silhouette) the box counts."""
    from comicc.ml.classifiers import colour_pixels
    from comicc.ml.identity import own_colour_masks

    art = torch.full((1, 3, 64, 64), 0.9)
    art[:, :, :, :] = torch.tensor([0.6, 0.75, 0.95]).view(1, 3, 1, 1)  # sky
    art[:, :, 28:36, 28:36] = torch.tensor([0.9, 0.45, 0.1]).view(1, 3, 1, 1)  # orange fox
    model = torch.zeros(12**3, 6)  # log-ratio, share, mean colour, rim (`colour_models`)
    model[:, 0] = -1.0
    orange = (torch.tensor([0.9, 0.45, 0.1]) * 11).round().long()
    model[(orange[0] * 12 + orange[1]) * 12 + orange[2]] = torch.tensor([2.0, 0.6, 0.9, 0.45, 0.1, 0])
    _, mask = element_masks([{"fox": (16 / 64, 16 / 64, 0.5, 0.5)}], [["fox"]], 64, 64)
    own = own_colour_masks(mask, [colour_pixels(model, art[0])])
    assert own.sum() == 64 and own[0, 0, 30, 30] == 1 and own[0, 0, 20, 20] == 0
    sky = art.clone()
    sky[:, :, :, :28] = torch.tensor([0.8, 0.7, 0.5]).view(1, 3, 1, 1)  # the style's tan
    grey = art.clone()
    grey[:, :, 28:36, 28:36] = 0.5

    def colour(styled, focus=None):
        return identity_terms(styled, art, mask, focus)["colour"].item()

    assert colour(sky) > 0.2 and colour(sky, own) < 0.1 * colour(sky)
    assert colour(grey, own) > colour(grey)  # the grey fox is all of the focus
    night = art * 0.2  # the fox's orange is nowhere: the whole box stays the focus
    assert torch.equal(own_colour_masks(mask, [colour_pixels(model, night[0])]), mask)
    assert torch.equal(own_colour_masks(mask, [None]), mask)


def test_background_term_holds_the_style_outside_the_elements_only():
    """Outside the present elements' boxes the print keeps the untuned style's chroma: a
    bird's blue painted on the tree beside it costs, the bird's own box does not, and the
    gradient stays outside the boxes; a panel that is all element, or has no element, has
    no background."""
    from comicc.ml.identity import background_masks, background_term

    torch.manual_seed(0)
    anchor = torch.rand(2, 3, 64, 64) * 0.3 + torch.tensor([0.6, 0.5, 0.3]).view(1, 3, 1, 1)
    rows, masks = element_masks([{"bird": (0.5, 0.5, 0.25, 0.25)}, {}], [["bird"], ["bird"]],
                                64, 64)
    background = background_masks(rows, masks, 2)
    assert background[0].sum() == 64 * 64 - 16 * 16 and background[1].sum() == 0
    # A panel with no element present: nothing to spread, no background term.
    rows3, masks3 = element_masks([{"bird": (0.5, 0.5, 0.25, 0.25)}, {}], [["bird"], []], 64, 64)
    assert background_masks(rows3, masks3, 2)[1].sum() == 0
    blue = torch.tensor([0.1, 0.2, 0.9]).view(1, 3, 1, 1)
    bird, tree = anchor.clone(), anchor.clone()
    bird[:, :, 32:48, 32:48] = blue
    tree[:, :, 8:24, 8:24] = blue
    assert background_term(anchor, anchor, background).abs().max() < 1e-6
    assert background_term(bird, anchor, background)[0] < 0.05 * background_term(
        tree, anchor, background)[0]
    assert background_term(tree, anchor, background)[1] == 0
    printed = anchor.clone().requires_grad_(True)
    background_term(printed + 0.1 * torch.rand_like(anchor), anchor, background).sum().backward()
    inside = printed.grad[0, :, 36:44, 36:44]
    assert printed.grad[0, :, :16, :16].abs().sum() > 0 and inside.abs().sum() == 0
