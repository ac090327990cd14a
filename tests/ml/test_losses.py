"""Loss terms against hand-computed values, and gradients reaching the style network."""

from __future__ import annotations

import math

import pytest
import torch

from comicc.ml.losses import (
    GramObjective,
    consistency_bce,
    content_loss,
    gram_matrix,
    gram_style_loss,
    tv_loss,
)
from comicc.ml.stylenet import UNetStyleNet


def test_gram_matrix_of_a_hand_made_tensor():
    # Two channels over four pixels: [1, 2, 3, 4] and [0, 1, 0, 1].
    f = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0]]).view(1, 2, 2, 2)
    expected = torch.tensor([[30.0, 6.0], [6.0, 2.0]]) / (2 * 4)
    assert torch.allclose(gram_matrix(f)[0], expected)


def test_gram_style_loss_is_relative_squared_error_per_layer():
    f = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 0.0, 1.0]]).view(1, 2, 2, 2)
    target = torch.tensor([[[4.0, 0.0], [0.0, 0.0]]])
    diff = gram_matrix(f)[0] - target[0]
    expected = diff.pow(2).mean() / target.pow(2).mean()
    loss = gram_style_loss([f, f], [target, target])
    assert loss.shape == (1,)
    assert loss.item() == pytest.approx(2 * expected.item(), rel=1e-5)
    assert gram_style_loss([f], [gram_matrix(f)]).item() == pytest.approx(0.0, abs=1e-6)


def test_content_loss_known_value():
    source = torch.ones(2, 1, 2, 2)
    styled = torch.full((2, 1, 2, 2), 3.0)
    # mean((3 - 1)^2) / mean(1^2) = 4 per layer, two layers.
    assert torch.allclose(
        content_loss([styled, styled], [source, source]), torch.tensor([8.0, 8.0])
    )


def test_tv_of_constant_image_is_zero_and_of_checkerboard_is_known():
    assert tv_loss(torch.full((1, 3, 5, 7), 0.4)).item() == 0.0
    n = 4
    board = ((torch.arange(n).view(-1, 1) + torch.arange(n).view(1, -1)) % 2).float()
    x = board.expand(1, 3, n, n)
    # Horizontal and vertical neighbours differ by 1 (3*n*(n-1) pairs each); diagonals are equal.
    assert tv_loss(x).item() == pytest.approx(2 * math.sqrt(3 * n * (n - 1)))


def test_consistency_bce_matches_hand_computation_and_stays_finite():
    probs = torch.tensor([[0.9, 0.2], [0.5, 0.7]])
    targets = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.5) + math.log(0.3)) / 4
    assert consistency_bce(probs, targets).item() == pytest.approx(expected, rel=1e-5)
    extreme = consistency_bce(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]]))
    assert math.isfinite(extreme.item()) and extreme.item() == pytest.approx(
        -math.log(1e-6), rel=1e-3
    )


def test_gram_objective_is_zero_for_the_style_image_itself(backbone):
    style = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(1))
    objective = GramObjective(backbone, style, style_weight=2.0, content_weight=3.0, tv_weight=0.0)
    x = style.unsqueeze(0)
    terms = objective(x, x, torch.tensor([0]))
    assert set(terms) == {"style", "content", "tv"}
    assert terms["style"].item() == pytest.approx(0.0, abs=1e-4)
    assert terms["content"].item() == pytest.approx(0.0, abs=1e-6)


def test_gram_objective_per_panel_targets_follow_panel_index(backbone):
    gen = torch.Generator().manual_seed(2)
    a, b = torch.rand(3, 40, 40, generator=gen), torch.rand(3, 40, 40, generator=gen) * 0.3
    objective = GramObjective(backbone, panel_styles=[a, b], style_weight=1.0, content_weight=0.0)
    batch = torch.stack([a, b])
    matched = objective(batch, batch, torch.tensor([0, 1]))["style"]
    swapped = objective(batch, batch, torch.tensor([1, 0]))["style"]
    assert matched.item() == pytest.approx(0.0, abs=1e-4)
    assert swapped.item() > 0.1


def test_gram_objective_needs_exactly_one_style_source(backbone):
    with pytest.raises(ValueError):
        GramObjective(backbone)
    with pytest.raises(ValueError):
        GramObjective(backbone, torch.rand(3, 8, 8), panel_styles=[torch.rand(3, 8, 8)])


@pytest.mark.parametrize("term", ["style", "content", "tv", "consistency"])
def test_gradients_reach_the_style_network_through_each_loss(term, backbone, bank, comic):
    torch.manual_seed(0)
    net = UNetStyleNet(width=8)
    x = torch.stack(comic.panels)
    # Each term alone must move every layer: the output layer starts near zero, not at zero.
    style = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(3))
    objective = GramObjective(backbone, style, style_weight=1.0, content_weight=1.0, tv_weight=1.0)
    styled = net(x)
    if term == "consistency":
        loss = consistency_bce(bank.probabilities(styled), comic.targets)
    else:
        loss = objective(styled, x, torch.arange(len(x)))[term]
    loss.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None for g in grads)
    assert sum(g.abs().sum().item() for g in grads) > 0
    assert net.out.weight.grad.abs().sum() > 0


def test_prepared_sources_give_the_same_terms_without_the_backbone(backbone):
    torch.manual_seed(0)
    sources = torch.rand(3, 3, 48, 48)
    styled = torch.rand(2, 3, 48, 48)
    index = torch.tensor([2, 0])
    objective = GramObjective(backbone, torch.rand(3, 64, 64), content_weight=1.0)
    plain = objective(styled, sources[index], index)
    objective.prepare_sources(sources, torch.arange(3))
    calls = []
    handle = backbone.net._conv_stem.register_forward_hook(lambda *a: calls.append(1))
    prepared = objective(styled, sources[index], index)
    handle.remove()
    assert len(calls) == 1  # the styled batch only
    for name in plain:
        assert torch.allclose(plain[name], prepared[name], rtol=1e-5), name
    # A batch of another size is not the prepared sources: computed as before.
    other = objective(styled[:, :, :32, :32], sources[index][:, :, :32, :32], index)
    assert torch.isfinite(other["content"])


def test_random_views_keep_geometry_and_differ_between_draws():
    from comicc.ml.losses import random_view

    x = torch.zeros(2, 3, 64, 64)
    x[:, 0, 16:48, 8:24] = 1.0  # a red bar on the left
    torch.manual_seed(0)
    a, b = random_view(x), random_view(x)
    assert a.shape == x.shape and 0 <= a.min() and a.max() <= 1
    assert not torch.allclose(a, b)
    # the bar stays where it was: a box around it still holds most of the red
    for view in (a, b):
        red = view[:, 0] - view[:, 1:].mean(dim=1)
        assert red[:, 16:48, 8:24].mean() > 3 * red[:, :, 32:].abs().mean()
    torch.manual_seed(0)
    assert torch.equal(random_view(x), a)
    x.requires_grad_(True)
    random_view(x).sum().backward()
    assert x.grad.abs().sum() > 0
