"""Fine-tuning the real pretrained 26-style network under the Comic Book Loss.

On the synthetic ball/box comic, a content-destroying style ("brick-weave") is the target
look; the classifier term must bring the elements back, and learnt per-panel styles must
move while staying mixes (non-negative weights summing to 1).
"""

from __future__ import annotations

import pytest
import torch

from comicc.engine.style_stage import StyleMixNet, as_style_mix
from comicc.ml.backbone import resize
from comicc.ml.losses import GramObjective
from comicc.ml.multistyle import load_multistyle26, style_vector
from comicc.ml.presets import PRESETS
from comicc.ml.train import fit_comic, matrix_agreement

SIZE = 48
STEPS = 20
# Short: enough for the learnt styles to move.
COND_STEPS = 6
STYLE = "brick-weave"
# Twice the draft's learning rate: 20 steps must visibly move a network the classifiers
# cannot be fooled about (the bank learnt the shapes, not a colour shortcut).
# Without the structure term: on these 64 px panels an element's crop is most of the panel,
# so the term holds the whole panel to the art and masks what is tested here, the classifier
# term and the learnt style mixes (the structure term has its own tests in test_train.py,
# test_identity.py and test_distributed.py).
TINY = PRESETS["draft"].with_overrides(size=SIZE, panels_per_step=4, lr=1e-2,
                                       structure_weight=0.0)


@pytest.fixture(scope="module")
def pristine() -> dict[str, torch.Tensor]:
    return load_multistyle26().state_dict()


def network(pristine: dict[str, torch.Tensor]) -> StyleMixNet:
    net = StyleMixNet()
    net.load_state_dict(pristine)
    return net


@pytest.fixture(scope="module")
def setup(backbone, comic, pristine):
    """Per-panel style conditions and the build's objective: the untuned rendering's look."""
    conds = style_vector(STYLE).expand(len(comic.panels), -1).clone()
    sources = torch.cat([resize(p[None], (SIZE, SIZE)) for p in comic.panels])
    with torch.no_grad():
        looks = network(pristine)(sources, conds)
    objective = GramObjective(backbone, panel_styles=list(looks), style_weight=TINY.style_weight,
                              content_weight=TINY.content_weight, tv_weight=TINY.tv_weight)
    return conds, sources, looks, objective


def agreement(bank, comic, images: torch.Tensor) -> float:
    with torch.no_grad():
        return matrix_agreement(bank.probabilities(images), comic.targets)


def fine_tune(pristine, setup, bank, comic, lam: float, learn_conds: bool,
              steps: int = STEPS):
    conds, sources, _, objective = setup
    preset = TINY.with_overrides(lam=lam)
    net = network(pristine)
    result = fit_comic(net, comic.panels, conds, objective, bank, comic.targets,
                       [{} for _ in comic.panels], preset=preset, steps=steps, seed=0,
                       device="cpu", learn_conds=learn_conds)
    net.eval()
    with torch.no_grad():
        styled = net(sources, result.conds)
    return net, result, styled


def test_the_style_destroys_the_elements_before_fine_tuning(bank, comic, setup):
    _, sources, looks, _ = setup
    assert agreement(bank, comic, sources) < 0.2
    assert agreement(bank, comic, looks) > 2 * agreement(bank, comic, sources)


def disc_contrast(images: torch.Tensor, comic) -> float:
    """How much redder than its surroundings the ball's disc is, averaged over the panels
    that show the ball: a pixel fact of the synthetic scene no classifier is asked about."""
    size = images.shape[-1]
    yy, xx = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    contrasts = []
    for j, regions in enumerate(comic.regions):
        if "ball" not in regions:
            continue
        x, y, w, _ = regions["ball"]
        radius = (w / 2 - 2 / 64) * size  # the region has a 2-pixel margin at 64 px
        distance = ((xx - (x + w / 2) * size) ** 2 + (yy - (y + w / 2) * size) ** 2).sqrt()
        red = images[j, 0] - images[j, 1:].max(dim=0).values
        inside, ring = distance < 0.8 * radius, (distance > 1.2 * radius) & (distance < 1.8 * radius)
        contrasts.append((red[inside].mean() - red[ring].mean()).item())
    return sum(contrasts) / len(contrasts)


@pytest.mark.slow
def test_classifier_term_restores_agreement(pristine, setup, bank, comic):
    """Same seed, steps and style loss: lambda > 0 ends closer to p-hat than lambda = 0 as
    judged by the bank it trained against, and by the pixels: the red disc stands out more.

    A second, independent bank of heads on the same backbone (`judge_bank`) is no reliable
    judge of this synthetic comic: its disagreement at lambda = 0 is 0.42 on one CPU and 0.67
    on another (same wheels, same seed), and at lambda = 50 it ranged from 0.58 to 1.78 over
    fit seeds 0-3 on the second CPU, against 0.67 at lambda = 0: the classifier term's texture
    fools heads like the ones it trains against. Whether the elements stay recognisable to a
    judge the loss never sees is measured where it can be, on drawn comics with the
    EfficientNet-Lite2 judge: benchmarks/bench_consistency.py, docs/pretrained.md."""
    _, _, looks, _ = setup
    styled = {lam: fine_tune(pristine, setup, bank, comic, lam, False)[2] for lam in (0.0, TINY.lam)}
    scores = {lam: agreement(bank, comic, images) for lam, images in styled.items()}
    contrast = {lam: disc_contrast(images, comic) for lam, images in styled.items()}
    assert scores[TINY.lam] < 0.8 * scores[0.0], scores
    assert scores[TINY.lam] < 0.8 * agreement(bank, comic, looks), scores
    # The style turns the disc less red than its surroundings; lambda > 0 pulls it back.
    # lambda = 0 is left out: fine-tuning without the term moved the disc's contrast by
    # +0.1 on one CPU and by -0.2 on another (same wheels), so it is no reference.
    looked = disc_contrast(looks, comic)
    assert contrast[TINY.lam] > looked + 0.05, (contrast, looked)


def test_learnt_styles_move_and_stay_mixes(pristine, setup, bank, comic):
    conds = setup[0]
    net, result, styled = fine_tune(pristine, setup, bank, comic, TINY.lam, True, COND_STEPS)
    mixes = as_style_mix(result.conds)
    assert (mixes >= 0).all()
    assert torch.allclose(mixes.sum(dim=1), torch.ones(len(comic.panels)), atol=1e-6)
    # Moved off the named style, towards others (a style at weight 0 could grow).
    assert (mixes - conds).abs().sum(dim=1).min() > 1e-3
    assert (mixes[:, [i for i in range(26) if conds[0, i] == 0]] > 0).any()
    # The network saw exactly these mixes: rendering with them gives the same pixels.
    with torch.no_grad():
        again = net(torch.cat([resize(p[None], (SIZE, SIZE)) for p in comic.panels]), mixes)
    # (float rounding: the network projects the raw conds itself, and projecting the
    # projection again differs by 1.6e-5 on one CPU; a different mix moves pixels by 1e-2)
    assert torch.allclose(again, styled, atol=1e-4)


def test_style_mix_projection():
    named = style_vector({"mosaic": 1.0, "ink-wash": 3.0})
    assert torch.allclose(as_style_mix(named[None])[0], named)
    raw = torch.zeros(2, 26)
    raw[0, :3] = torch.tensor([2.0, -1.0, 2.0])
    raw[1] = -0.5
    mixes = as_style_mix(raw)
    assert mixes[0, :3].tolist() == [0.5, 0.0, 0.5] and mixes[0, 3:].abs().sum() == 0
    assert torch.allclose(mixes[1], torch.full((26,), 1 / 26))
    # Gradients reach every style, also those at weight 0 (straight through the clamp).
    one_hot = style_vector("crimson")[None].requires_grad_(True)
    (as_style_mix(one_hot) * torch.arange(26.0)).sum().backward()
    assert (one_hot.grad[0] != 0).sum() >= 25


def test_mix_network_matches_the_pretrained_network_on_named_styles(pristine):
    x = torch.rand(2, 3, 24, 20, generator=torch.Generator().manual_seed(0))
    weights = torch.stack([style_vector("starry-night"), style_vector({"mosaic": 1, "crimson": 1})])
    plain = load_multistyle26()
    with torch.no_grad():
        assert torch.allclose(network(pristine)(x, weights), plain(x, weights), atol=1e-6)
