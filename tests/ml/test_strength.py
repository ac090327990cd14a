"""Strength maps and the blend they drive, and the Comic Book Loss at the author's strengths."""

from __future__ import annotations

import torch

from comicc.manifest.strength import ElementStrength, PanelStrength
from comicc.ml.strength import blend_panel, region_mask, strength_map

BOX = (0.25, 0.25, 0.5, 0.5)


def test_region_mask_is_one_inside_zero_outside_with_a_soft_edge() -> None:
    mask = region_mask(BOX, 100, 100)[0]
    assert mask[50, 50] == 1 and mask[5, 5] == 0 and mask[50, 5] == 0
    edge = mask[50, 20:31]
    assert 0 < edge[5] < 1  # the ramp straddles the box's edge (x = 25 px)
    assert torch.all(edge[1:] >= edge[:-1])


def test_element_strength_sets_its_region_and_the_panel_the_rest() -> None:
    strength = PanelStrength(0.8, "panel", (ElementStrength("mara", BOX, 0.1),))
    m = strength_map(strength, 80, 80)[0]
    assert torch.isclose(m[40, 40], torch.tensor(0.1)) and torch.isclose(m[2, 2], torch.tensor(0.8))


def test_element_strength_changes_pixels_inside_its_region_more_than_outside() -> None:
    torch.manual_seed(0)
    art, styled = torch.rand(3, 64, 64), torch.rand(3, 64, 64)
    full = blend_panel(styled, art, PanelStrength(1.0, "comic"))
    quiet = blend_panel(styled, art, PanelStrength(1.0, "comic", (ElementStrength("m", BOX, 0.0),)))
    change = (quiet - full).abs().mean(dim=0)
    inside, outside = region_mask(BOX, 64, 64)[0] > 0.99, region_mask(BOX, 64, 64)[0] < 0.01
    assert change[inside].mean() > 0.2 and change[outside].max() == 0
    assert torch.allclose(quiet[:, inside], art[:, inside], atol=1e-6)


def test_full_strength_is_the_network_output_and_zero_the_art() -> None:
    art, styled = torch.rand(3, 20, 30), torch.rand(3, 20, 30)
    assert blend_panel(styled, art, PanelStrength(1.0, "comic")) is styled
    assert torch.allclose(blend_panel(styled, art, PanelStrength(0.0, "panel")), art)
    half = blend_panel(styled, art, PanelStrength(0.5, "page"))
    assert torch.allclose(half, (art + styled) / 2, atol=1e-6)


def test_art_of_another_size_is_resized_to_the_output() -> None:
    art = torch.full((3, 10, 15), 0.25)
    out = blend_panel(torch.ones(3, 40, 60), art, PanelStrength(0.0, "comic"))
    assert out.shape == (3, 40, 60) and torch.allclose(out, torch.full_like(out, 0.25), atol=1e-5)


def _fit(comic, bank, strengths, lam: float = 1.0):
    from comicc.ml.presets import PRESETS
    from comicc.ml.stylenet import UNetStyleNet
    from comicc.ml.train import fit_comic
    from tests.ml.test_train import MeanColourObjective

    torch.manual_seed(0)
    n = len(comic.panels)
    objective = MeanColourObjective(torch.full((n, 3), 0.5))
    # The classifiers judge the print itself, not random views of it: the term's value is
    # then comparable between steps.
    preset = PRESETS["draft"].with_overrides(size=32, lr=1e-2, panels_per_step=n, lam=lam,
                                             consistency_views=0)
    return fit_comic(UNetStyleNet(width=4), comic.panels, torch.zeros(n, 0), objective, bank,
                     comic.targets, comic.regions, preset=preset, steps=2, seed=0,
                     device="cpu", strengths=strengths)


def test_full_strength_maps_train_exactly_as_without_dials(comic, bank) -> None:
    plain = _fit(comic, bank, None)
    full = _fit(comic, bank, torch.ones(len(comic.panels), 1, 32, 32))
    assert all(torch.equal(plain.net_state[k], full.net_state[k]) for k in plain.net_state)


def test_the_classifier_term_judges_each_panel_at_its_strength(comic, bank) -> None:
    """At strength 0 the classifiers see the art itself: the term no longer moves the network."""
    zero = _fit(comic, bank, torch.zeros(len(comic.panels), 1, 32, 32))
    consistency = [h.terms["consistency"] for h in zero.history]
    assert consistency[0] == consistency[1]  # the art does not change between steps
    unjudged = _fit(comic, bank, None, lam=0.0)
    assert all(torch.equal(zero.net_state[k], unjudged.net_state[k]) for k in zero.net_state)
    judged = _fit(comic, bank, None)
    assert not all(torch.equal(judged.net_state[k], unjudged.net_state[k]) for k in judged.net_state)


def test_a_region_on_the_panels_border_has_no_soft_edge_there() -> None:
    mask = region_mask((0.0, 0.0, 0.5, 1.0), 40, 40)[0]
    assert torch.all(mask[:, 0] == 1) and torch.all(mask[0, :15] == 1) and torch.all(mask[-1, :15] == 1)
