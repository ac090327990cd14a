"""The Comic Book Loss loop: the classifier term and per-panel conditions matter, the loop
is deterministic, resumes from a warm start, and renders at output resolution."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from comicc.ml.losses import GramObjective
from comicc.ml.presets import PRESETS, Preset
from comicc.ml.stylenet import UNetStyleNet
from comicc.ml.train import WarmStart, fit_comic, matrix_agreement, render_panels

TINY = PRESETS["draft"].with_overrides(size=64, lr=1e-2, panels_per_step=4)


class MeanColourObjective:
    """A style objective whose target is a mean colour per panel (fast and exact to test)."""

    def __init__(self, colours: Tensor) -> None:
        self.colours = colours  # [N, 3]

    def __call__(self, styled: Tensor, source: Tensor, panel_index: Tensor) -> dict[str, Tensor]:
        error = styled.mean(dim=(2, 3)) - self.colours[panel_index]
        return {"style": error.pow(2).sum()}


def stripes(size: int = 64) -> Tensor:
    """A loud diagonal red/green texture: a style strong enough to wipe out the shapes."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    a, b = ((xx + yy) // 4 % 2).float(), ((xx - yy) // 6 % 2).float()
    return torch.stack([a, 0.8 * b, torch.full((size, size), 0.2)])


def styled_agreement(net, bank, comic, conds) -> float:
    out = torch.stack(render_panels(net, comic.panels, conds, 64, "cpu"))
    with torch.no_grad():
        return matrix_agreement(bank.probabilities(out), comic.targets)


@pytest.mark.slow
def test_classifier_term_keeps_elements_recognisable(backbone, bank, judge_bank, comic):
    """(a) Same seed and steps: lambda > 0 ends with a lower BCE against p_hat than lambda = 0,
    by the bank it trained against and by an independent judge bank it never saw."""
    objective = GramObjective(backbone, stripes(), style_weight=10.0, content_weight=0.0)
    agreement, judged = {}, {}
    # lambda = 1 is within the noise of 40 steps: its BCE was 0.76x lambda = 0's on one
    # machine and 1.16x on another (different CPU, same wheels). lambda = 3: 0.56x.
    for lam in (0.0, 3.0):
        torch.manual_seed(0)
        net = UNetStyleNet(width=8)
        result = fit_comic(
            net,
            comic.panels,
            torch.zeros(4, 0),
            objective,
            bank,
            comic.targets,
            comic.regions,
            # the classifier term alone (no identity terms, no random views): what is tested
            preset=TINY.with_overrides(lam=lam, identity_weight=0.0, colour_weight=0.0,
                                       structure_weight=0.0, background_weight=0.0,
                                       consistency_views=0),
            steps=40,
            seed=0,
            device="cpu",
        )
        agreement[lam] = styled_agreement(net, bank, comic, result.conds)
        judged[lam] = styled_agreement(net, judge_bank, comic, result.conds)
        assert ("consistency" in result.history[0].terms) == (lam > 0)
    raw = matrix_agreement(bank.probabilities(torch.stack(comic.panels)).detach(), comic.targets)
    print(f"mean BCE vs p_hat: raw {raw:.3f}, lambda=0 {agreement[0.0]:.3f}, ", end="")
    print(f"lambda=3 {agreement[3.0]:.3f}; judged {judged}")
    # The spatial heads are regularised towards moderate logits (raw art scores ~0.16), so
    # the style's damage and the term's repair are smaller than with sharp heads.
    assert agreement[0.0] > 1.3 * raw, "the style target should damage recognition on its own"
    assert agreement[3.0] < 0.85 * agreement[0.0]
    assert judged[3.0] < judged[0.0], judged


def test_per_panel_conditions_let_one_network_style_panels_differently(comic):
    """(b) The same drawing in two panels, each asked for its own colour by its condition."""
    panels = [comic.panels[2], comic.panels[2]]
    colours = torch.tensor([[0.9, 0.3, 0.1], [0.1, 0.3, 0.9]])
    objective = MeanColourObjective(colours)
    outputs, errors = {}, {}
    for name, conds in {
        "own": torch.eye(2),
        "shared": torch.tensor([[1.0, 0.0], [1.0, 0.0]]),
    }.items():
        torch.manual_seed(0)
        net = UNetStyleNet(width=8, cond_dim=2)
        result = fit_comic(
            net,
            panels,
            conds,
            objective,
            None,
            torch.zeros(0, 2),
            [{}, {}],
            preset=TINY.with_overrides(size=32, lr=3e-2, lam=0.0),
            steps=25,
            seed=0,
            device="cpu",
        )
        out = torch.stack(render_panels(net, panels, result.conds, 32, "cpu"))
        outputs[name] = out
        errors[name] = (out.mean(dim=(2, 3)) - colours).abs().sum(dim=1)
    assert torch.equal(outputs["shared"][0], outputs["shared"][1])
    assert (outputs["own"][0] - outputs["own"][1]).abs().mean() > 0.2
    assert (errors["own"] < errors["shared"]).all()


def fit(net, comic, objective, bank, *, steps=4, seed=0, batch=2, **kwargs):
    return fit_comic(
        net,
        comic.panels,
        kwargs.pop("conds", torch.zeros(4, 0)),
        objective,
        bank,
        comic.targets,
        comic.regions,
        preset=TINY.with_overrides(panels_per_step=batch, lam=1.0),
        steps=steps,
        seed=seed,
        device="cpu",
        **kwargs,
    )


def test_same_seed_and_inputs_give_identical_results(backbone, bank, comic):
    """(e) Determinism on CPU, with random mini-batches and region-aware classifiers."""
    objective = GramObjective(backbone, stripes(), style_weight=1.0, content_weight=1.0)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        net = UNetStyleNet(width=4, cond_dim=2)
        conds = torch.eye(2).repeat(2, 1)
        result = fit(net, comic, objective, bank, conds=conds, learn_conds=True)
        runs.append((result, render_panels(net, comic.panels, result.conds, 48, "cpu")))
    (first, out1), (second, out2) = runs
    assert [h.terms for h in first.history] == [h.terms for h in second.history]
    assert all(torch.equal(a, b) for a, b in zip(out1, out2, strict=True))
    assert all(torch.equal(first.net_state[k], second.net_state[k]) for k in first.net_state)
    assert torch.equal(first.conds, second.conds)


def test_fit_trains_parameters_and_learns_conditions_when_asked(comic):
    objective = MeanColourObjective(torch.rand(4, 3, generator=torch.Generator().manual_seed(0)))
    conds = torch.eye(4)
    for learn in (False, True):
        torch.manual_seed(0)
        net = UNetStyleNet(width=4, cond_dim=4)
        before = {k: v.clone() for k, v in net.state_dict().items()}
        result = fit(net, comic, objective, None, conds=conds, learn_conds=learn)
        assert any(not torch.equal(before[k], result.net_state[k]) for k in before)
        assert torch.equal(result.conds, conds) != learn
        assert result.history[-1].total < result.history[0].total


def test_warm_start_resumes_instead_of_starting_over(comic):
    """8 steps, then 1 resumed step, equals 9 steps in one go (net and Adam state carried)."""
    objective = MeanColourObjective(torch.rand(4, 3, generator=torch.Generator().manual_seed(1)))
    runs = {}
    for steps in (9, 8):
        torch.manual_seed(0)
        runs[steps] = fit(UNetStyleNet(width=4), comic, objective, None, steps=steps, batch=4)
    first = runs[8]
    init = WarmStart(first.net_state, first.conds, first.optimizer_state)
    torch.manual_seed(5)  # a different fresh network: the warm start must replace it
    resumed = fit(UNetStyleNet(width=4), comic, objective, None, steps=1, batch=4, init=init)
    assert resumed.history[0].total == pytest.approx(runs[9].history[8].total, rel=1e-5)
    assert all(
        torch.allclose(resumed.net_state[k], runs[9].net_state[k], atol=1e-6)
        for k in resumed.net_state
    )
    assert resumed.history[0].total < 0.5 * runs[9].history[0].total


def test_progress_is_reported_and_should_stop_ends_early(comic):
    objective = MeanColourObjective(torch.zeros(4, 3))
    logs = []
    result = fit(
        UNetStyleNet(width=4),
        comic,
        objective,
        None,
        steps=10,
        progress=logs.append,
        should_stop=lambda: len(logs) >= 3,
    )
    assert [log.step for log in logs] == [0, 1, 2]
    assert result.stopped_early and len(result.history) == 3
    assert set(logs[0].terms) == {"style"} and logs[0].seconds > 0
    assert result.seconds_per_step > 0


def test_render_panels_keeps_aspect_at_output_resolution():
    net = UNetStyleNet(width=4)
    panels = [torch.rand(3, 30, 60), torch.rand(3, 80, 40)]
    out = render_panels(net, panels, torch.zeros(2, 0), 50, "cpu")
    assert [tuple(o.shape) for o in out] == [(3, 25, 50), (3, 50, 25)]
    assert all(0.0 <= o.min() and o.max() <= 1.0 and not o.requires_grad for o in out)


def test_matrix_agreement_is_mean_bce():
    targets = torch.tensor([[1.0, 0.0]])
    assert matrix_agreement(torch.tensor([[1.0, 0.0]]), targets) == pytest.approx(0.0, abs=1e-5)
    assert matrix_agreement(torch.tensor([[0.5, 0.5]]), targets) == pytest.approx(0.6931, abs=1e-3)


def test_presets():
    assert set(PRESETS) == {"draft", "standard", "final"}
    final = PRESETS["final"]
    # CLIPstyler's own settings.
    assert (final.size, final.crops, final.crop_size, final.patch_threshold) == (512, 64, 128, 0.7)
    assert (final.patch_weight, final.direction_weight, final.content_weight) == (9000, 500, 150)
    assert (final.tv_weight, final.lr) == (2e-3, 5e-4) and final.steps >= 200
    draft = PRESETS["draft"]
    # CPU-sized: smaller than the standard preset, which a laptop GPU runs.
    assert draft.size < PRESETS["standard"].size and draft.steps <= 80
    assert draft.with_overrides(steps=7, size=None).steps == 7
    assert draft.with_overrides(size=None).size == draft.size
    assert isinstance(draft, Preset) and 1 <= draft.warm_steps() < draft.steps


class _Identity(torch.nn.Module):
    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return x


def test_work_size_rendering_prints_what_the_loop_trained_on():
    """At a work size the network sees exactly its training geometry; the print is that
    output upscaled, so shrinking it back gives the training-size output again."""
    torch.manual_seed(0)
    net = UNetStyleNet(width=4)
    for p in net.parameters():  # far from the identity: a picture that depends on scale
        p.data.normal_(0, 0.3)
    panel = torch.rand(3, 90, 120)
    out = render_panels(net, [panel], torch.zeros(1, 0), 96, "cpu", work_size=32)[0]
    assert tuple(out.shape) == (3, 72, 96)
    with torch.no_grad():
        hi = torch.nn.functional.interpolate(panel[None], size=(72, 96), mode="bilinear",
                                             antialias=True)
        trained = net(torch.nn.functional.interpolate(hi, size=(32, 32), mode="bilinear",
                                                      antialias=True), None).clamp(0, 1)
        back = torch.nn.functional.interpolate(out[None], size=(32, 32), mode="bilinear",
                                               antialias=True)
        full_res = render_panels(net, [panel], torch.zeros(1, 0), 96, "cpu")[0]
        full_back = torch.nn.functional.interpolate(full_res[None], size=(32, 32),
                                                    mode="bilinear", antialias=True)
    near = (back - trained).abs().mean().item()
    assert near < 0.03
    assert (full_back - trained).abs().mean().item() > 2 * near  # full res draws another picture


def test_detail_restores_the_art_at_print_resolution():
    panel = torch.rand(3, 60, 80)  # all fine detail: the 16 x 16 view cannot hold it
    plain, full = (render_panels(_Identity(), [panel], torch.zeros(1, 0), 80, "cpu",
                                 work_size=16, detail=d)[0] for d in (0.0, 1.0))
    half = render_panels(_Identity(), [panel], torch.zeros(1, 0), 80, "cpu", work_size=16,
                         detail=0.5)[0]
    assert torch.allclose(full, panel, atol=1e-5)  # every line of the art is back
    assert (plain - panel).abs().mean() > 0.1
    assert (half - panel).abs().mean() < (plain - panel).abs().mean()


def test_focus_puts_the_edited_panels_in_every_batch():
    seen: list[list[int]] = []

    class Recording(MeanColourObjective):
        def __call__(self, styled, source, panel_index):
            seen.append(sorted(panel_index.tolist()))
            return super().__call__(styled, source, panel_index)

    panels = [torch.rand(3, 24, 24) for _ in range(6)]
    preset = TINY.with_overrides(size=16, panels_per_step=3)
    for focus in ((), (4,)):
        seen.clear()
        fit_comic(UNetStyleNet(width=4), panels, torch.zeros(6, 0), Recording(torch.rand(6, 3)),
                  None, torch.zeros(0, 6), [{}] * 6, preset=preset.with_overrides(lam=0.0), steps=8, seed=0,
                  device="cpu", focus=focus)
        assert all(len(batch) == 3 == len(set(batch)) for batch in seen)
        in_every = all(4 in batch for batch in seen)
        assert in_every if focus else not in_every
        assert len({j for batch in seen for j in batch}) > 3  # the others still take turns

    # More focused panels than a batch holds (an edit every panel shares): they take turns.
    seen.clear()
    fit_comic(UNetStyleNet(width=4), panels, torch.zeros(6, 0), Recording(torch.rand(6, 3)),
              None, torch.zeros(0, 6), [{}] * 6, preset=preset.with_overrides(lam=0.0), steps=20, seed=0,
              device="cpu", focus=range(6))
    assert {j for batch in seen for j in batch} == set(range(6))


@pytest.mark.parametrize("term", ["consistency", "identity", "structure", "colour", "edges",
                                  "background"])
def test_each_consistency_term_reaches_the_network(term, bank, comic):
    """The BCE and each identity term, alone, give the style network gradients, on the
    picture as it prints (here with keep = "lighting")."""
    from comicc.ml.train import Consistency

    torch.manual_seed(0)
    net = UNetStyleNet(width=8)
    x = torch.stack(comic.panels)
    index = torch.arange(len(x))
    weights = {"identity_weight": 1.0 * (term == "identity"),
               "structure_weight": 1.0 * (term == "structure"),
               "colour_weight": 1.0 * (term == "colour"), "edge_weight": 1.0 * (term == "edges"),
               "background_weight": 1.0 * (term == "background")}
    # The background term's anchors: the untuned style's rendering, here a tinted art.
    anchors = {j: 0.6 * panel + 0.4 * torch.tensor([0.8, 0.6, 0.3]).view(3, 1, 1)
               for j, panel in enumerate(comic.panels)}
    consistency = Consistency(bank, comic.targets, comic.regions, lam=1.0,
                              keeps=["lighting"] * len(x), anchors=anchors, **weights)
    # The U-Net starts as the identity: a share of noise makes every term non-zero.
    styled = 0.7 * net(x) + 0.3 * torch.rand(x.shape, generator=torch.Generator().manual_seed(1))
    printed = consistency.printed(styled, x, index, index)
    terms = consistency.terms(printed, x, index, index)
    assert set(terms) == {"consistency"} | ({"colour", "edges"} if term in ("colour", "edges")
                                            else {term})
    terms[term].backward()
    assert net.out.weight.grad is not None and net.out.weight.grad.abs().sum() > 0
    assert torch.isfinite(terms[term]) and terms[term].item() > 0


def test_lambda_zero_has_no_consistency_terms(bank, comic):
    from comicc.ml.train import Consistency

    consistency = Consistency(bank, comic.targets, comic.regions, lam=0.0, identity_weight=1.0)
    assert not consistency.active


def test_heads_measured_weak_leave_the_bce(bank, comic):
    """A head whose held-out accuracy was measured below WEAK_ACCURACY adds no BCE (its
    target does not move the term); a head whose accuracy could not be measured keeps it."""
    import copy

    from comicc.ml.train import Consistency

    x = torch.stack(comic.panels)
    index = torch.arange(len(x))
    styled = 0.5 * x + 0.5 * torch.rand(x.shape, generator=torch.Generator().manual_seed(2))
    first = bank.element_ids[0]
    flipped = comic.targets.clone()
    flipped[0] = 1 - flipped[0]

    def bce(accuracy: float, targets: Tensor) -> float:
        measured = copy.copy(bank)
        measured.accuracy = {**bank.accuracy, first: accuracy}
        consistency = Consistency(measured, targets, comic.regions, lam=1.0)
        with torch.no_grad():
            return consistency.terms(styled, x, index, index)["consistency"].item()

    assert bce(0.5, comic.targets) == pytest.approx(bce(0.5, flipped))
    assert bce(float("nan"), comic.targets) != pytest.approx(bce(float("nan"), flipped))
    assert bce(0.95, comic.targets) != pytest.approx(bce(0.95, flipped))
    assert bce(0.85, comic.targets) == pytest.approx(bce(0.85, flipped))
    # Every head weak: no BCE at all, and the term is an exact zero.
    everyone = copy.copy(bank)
    everyone.accuracy = {e: 0.5 for e in bank.element_ids}
    consistency = Consistency(everyone, comic.targets, comic.regions, lam=1.0)
    assert consistency.terms(styled, x, index, index)["consistency"].item() == 0.0


def test_the_weak_warning_says_what_the_loss_does():
    from comicc.engine.pipeline import weak_classifier_message

    assert "62%); its classifier term is left out" in weak_classifier_message("fox", 0.62)
    # Just under the 90 % gate it must not read as 90 %.
    assert "accuracy 89.5%)" in weak_classifier_message("fox", 0.8958)
    for unmeasured in (None, float("nan")):
        message = weak_classifier_message("fox", unmeasured)
        assert "no held-out measurement possible" in message and "left out" not in message


def test_colour_term_holds_each_element_in_its_own_region_and_a_panel_weighs_as_one(bank, comic):
    """The colour term: each present element's colours against its own art in its own
    region (`identity.element_masks`), averaged within its panel, summed over panels."""
    from comicc.ml.identity import element_masks, identity_terms
    from comicc.ml.train import Consistency

    x = torch.stack(comic.panels)
    index = torch.arange(len(x))
    consistency = Consistency(bank, comic.targets, comic.regions, lam=1.0, colour_weight=1.0)
    printed = (0.5 * x + 0.5 * torch.rand(x.shape, generator=torch.Generator().manual_seed(2)))
    got = consistency.terms(printed, x, index, index)["colour"]

    present = consistency.present
    assert any(len(p) > 1 for p in present) and any(len(p) == 1 for p in present)
    expected = torch.zeros(())
    for j, elements in enumerate(present):
        for element in elements:
            _, mask = element_masks([comic.regions[j]], [[element]], *x.shape[-2:])
            term = identity_terms(printed[j:j + 1], x[j:j + 1], mask)["colour"][0]
            expected = expected + term / len(elements)
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)


def test_colour_term_with_the_banks_colour_models_holds_the_elements_own_pixels(bank, comic):
    """With colour models in the bank (the classify stage's), each element's colour error
    counts on the pixels of its own colours in its region (`identity.own_colour_masks`),
    computed once per (panel, element); without them, on the whole region."""
    import copy

    from comicc.ml.classifiers import colour_models
    from comicc.ml.identity import element_masks, identity_terms, own_colour_masks
    from comicc.ml.train import Consistency

    x = torch.stack(comic.panels)
    index = torch.arange(len(x))
    modelled = copy.copy(bank)
    # Cut-out drawings on plain paper: a red disc, a blue square (the comic's own
    # references are striped, so they give no colour model).
    drawings = {}
    for name, colour in (("ball", (0.9, 0.1, 0.1)), ("box", (0.1, 0.2, 0.9))):
        drawing = torch.full((3, 32, 32), 0.95)
        drawing[:, 8:24, 8:24] = torch.tensor(colour).view(3, 1, 1)
        drawings[name] = [drawing]
    modelled.colour_models = colour_models(bank.element_ids, drawings, comic.panels,
                                           comic.targets)
    assert set(modelled.colour_models) == {"ball", "box"}
    printed = 0.5 * x + 0.5 * torch.rand(x.shape, generator=torch.Generator().manual_seed(3))
    consistency = Consistency(modelled, comic.targets, comic.regions, lam=1.0, colour_weight=1.0)
    got = consistency.terms(printed, x, index, index)["colour"]
    boxes = Consistency(bank, comic.targets, comic.regions, lam=1.0, colour_weight=1.0)
    assert got.item() != pytest.approx(boxes.terms(printed, x, index, index)["colour"].item())
    expected = torch.zeros(())
    cells = 0
    for j, elements in enumerate(consistency.present):
        for element in elements:
            _, mask = element_masks([comic.regions[j]], [[element]], *x.shape[-2:])
            own = consistency._own_pixels.get((j, element))
            focus = own_colour_masks(mask, [own])
            cells += own is not None
            term = identity_terms(printed[j:j + 1], x[j:j + 1], mask, focus)["colour"][0]
            expected = expected + term / len(elements)
    assert cells > 0
    assert got.item() == pytest.approx(expected.item(), rel=1e-5)
