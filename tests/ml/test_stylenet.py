"""The U-Net style network: size, identity at init, any H x W, FiLM conditioning."""

from __future__ import annotations

import pytest
import torch

from comicc.ml.stylenet import StyleNetwork, UNetStyleNet, count_parameters


def test_default_width_has_about_six_hundred_thousand_parameters():
    count = count_parameters(UNetStyleNet())
    print(f"UNetStyleNet(width=16): {count:,} parameters")
    assert 500_000 < count < 700_000
    assert count_parameters(UNetStyleNet(width=8)) < count / 3


@pytest.mark.parametrize("shape", [(2, 3, 64, 64), (1, 3, 37, 53), (1, 3, 5, 3), (1, 3, 1, 1)])
def test_identity_at_init_for_any_size(shape):
    torch.manual_seed(0)
    net = UNetStyleNet(width=8, cond_dim=3)
    x = torch.rand(shape)
    y = net(x, torch.randn(shape[0], 3))
    assert y.shape == x.shape
    assert (y - x).abs().max().item() < 1e-3
    assert 0.0 <= y.min().item() and y.max().item() <= 1.0


def test_satisfies_the_style_network_protocol():
    assert isinstance(UNetStyleNet(width=4), StyleNetwork)


def test_conditioned_network_needs_a_condition():
    net = UNetStyleNet(width=4, cond_dim=2)
    with pytest.raises(ValueError, match="cond"):
        net(torch.rand(1, 3, 16, 16))


def test_gradients_reach_every_parameter_from_the_first_step():
    torch.manual_seed(0)
    net = UNetStyleNet(width=8, cond_dim=2)
    x = torch.rand(2, 3, 32, 32)
    target = torch.rand(2, 3, 32, 32)
    (net(x, torch.eye(2)) - target).pow(2).mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_condition_changes_the_output_once_film_is_trained():
    torch.manual_seed(0)
    net = UNetStyleNet(width=8, cond_dim=2)
    x = torch.rand(1, 3, 16, 16).expand(2, -1, -1, -1)
    conds = torch.eye(2)
    # Teach the network: condition 0 -> darker, condition 1 -> brighter, from the same input.
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(20):
        y = net(x, conds)
        loss = y[0].mean() - y[1].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        y = net(x, conds)
    assert y[1].mean() - y[0].mean() > 0.1
