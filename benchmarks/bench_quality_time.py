"""Time to the same quality: the joint loop against a CLIPstyler-style loop, on the sample.

    python benchmarks/bench_quality_time.py                  # samples/lighthouse, draft, CPU
    python benchmarks/bench_quality_time.py --cap 300 --device cuda --preset standard

The joint loop is the build's style stage: `fit_comic` over all panels for the preset's
steps, with the classifiers (whose training is timed too) and the whole Comic Book Loss
(classifier BCE and identity/colour terms inside the regions the build uses: the manifest's,
else the ones the classifiers find), on each panel as it will print (its keep, kept element
colours and strength: `loss_options`). It sets two targets per panel:

  style  its network's style loss on that panel afterwards;
  judge  the independent judge's identity on that panel (comicc/ml/judge.py, a network no
         loss term sees): the panel rendered as the build prints it (`render_print` at the
         long side the report's judge reads, comicc/report/judging.py, then its keep, kept
         element colours and strength: `blend_panel`), the cosine of the
         judge embeddings of each present element's styled crop and its concept-art crop
         (the manifest's region, else the whole panel, as the build judges), mean over the
         elements present there. A panel with no present element has no judge target.

The CLIPstyler-style loop then fits a fresh network to each panel alone (no classifiers,
λ = 0) until its style loss is at most the style target (style only), and until, at one
judge check, its style loss is at most the style target and its judge identity at least
the judge target (style and judge), or `--cap` steps. The judge checks the network every
`--judge-every` steps (it costs a render and a judge embedding per crop); the time of these
checks is charged to neither loop and printed apart. Equal steps would not compare like
with like: the joint loop visits `panels_per_step` panels per step, the one-panel loop one
panel per step on each of them.

Per panel: the style target, the one-panel loop's style loss at its start and the steps it
took to reach the target; the judge target, the one-panel loop's identity at its start, its
best (@ the step) and at its end, the steps to the judge target alone, to both at once, the
seconds charged for that panel and the CPU seconds of its judge checks. Then, for each loop,
wall and CPU seconds to the targets (set-up included: the network, its conditions and the
objective's targets, as a build makes them) and the ratios.
A panel that reaches the cap counts with the cap's time, so the one-panel figure is then
a lower bound (marked >=). The loss of a step is the network's before that step's update:
the one-panel loop is charged one step past the one whose network reached the target. A
judge check renders the network as it is then (one update past the last logged loss) with
the condition of the last step (its learned style mix).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import SAMPLE, Clock, load, machine, sample_setup  # noqa: E402, I001 (threads first)
import torch  # noqa: E402

from comicc.boxes import crop_array  # noqa: E402

from comicc.engine.style_stage import (  # noqa: E402
    classify_side,
    loss_options,
    palette_places,
    panel_texts,
    render_options,
    render_print,
    style_network,
    style_objective,
    training_data,
)
from comicc.manifest.strength import panel_strengths  # noqa: E402
from comicc.ml.backbone import resize  # noqa: E402
from comicc.ml.classifiers import train_and_locate  # noqa: E402
from comicc.ml.judge import (  # noqa: E402
    PRESENT,
    JudgeReference,
    embed_all,
    learn_reference,
    load_judge,
)
from comicc.ml.presets import PRESETS  # noqa: E402
from comicc.ml.strength import blend_panel  # noqa: E402
from comicc.ml.train import StepLog, fit_comic  # noqa: E402
from comicc.report.judging import LONG_SIDE as JUDGE_SIDE  # noqa: E402

# The one-panel loop stops here if a panel never reaches the joint loop's targets.
CAP_STEPS = 300
# The one-panel loop's network is judged every this many steps.
JUDGE_EVERY = 5


@torch.no_grad()
def style_loss_per_panel(net: torch.nn.Module, panels, conds: torch.Tensor, objective,
                         size: int, device: torch.device) -> list[float]:
    """The objective's style term for each panel alone, through the trained network."""
    losses = []
    for j in range(len(panels)):
        x = resize(panels[j][None].float(), (size, size)).to(device)
        cond = conds[j : j + 1].to(device) if conds.shape[1] else None
        terms = objective(net(x, cond), x, torch.tensor([j], device=device))
        losses.append(float(terms["style"]))
    return losses


@dataclass
class PanelJudge:
    """The judge's identity of one panel as the build prints and judges it."""

    judge: torch.nn.Module
    reference: JudgeReference
    art: list  # the concept art at the judge's long side, per panel
    strengths: list
    places: list  # per panel, where its kept element colours are (`palette_places`)
    device: torch.device
    options: dict
    keys: list = field(init=False)

    def __post_init__(self) -> None:
        self.keys = self.reference.keys

    def boxes(self, j: int) -> list:
        """The crops of panel j's present elements (one per element; None: whole panel)."""
        ref = self.reference
        return [ref.boxes[i][j] for i in range(len(ref.element_ids))
                if float(ref.targets[i, j]) >= PRESENT]

    def identity(self, net: torch.nn.Module, cond: torch.Tensor, j: int) -> float | None:
        """Mean over panel j's present elements of the cosine of the judge embeddings of the
        styled crop and the concept-art crop; None when no element is present."""
        boxes = self.boxes(j)
        if not boxes:
            return None
        art = self.art[j]
        styled = blend_panel(render_print(net, art, cond, self.device, self.options), art,
                             self.strengths[j], self.places[j])
        embedded = embed_all(self.judge, (crop_array(styled, box) for box in boxes))
        raw = self.reference.crops.to(embedded.device)[[self.keys.index((j, b)) for b in boxes]]
        return float((embedded * raw).sum(dim=1).mean())


@dataclass
class SingleRun:
    """One panel's CLIPstyler-style fit: its loss history, when it reached each target
    (steps, wall and CPU seconds with the judge checks taken out) and the checks' cost."""

    history: list[StepLog] = field(default_factory=list)
    style_at: tuple[int, float, float] | None = None
    both_at: tuple[int, float, float] | None = None
    judge_first: int | None = None  # first checked step with identity >= the target
    judged: list[tuple[int, float]] = field(default_factory=list)
    judge_wall: float = 0.0
    judge_cpu: float = 0.0
    end: tuple[int, float, float] = (0, 0.0, 0.0)


def fit_until(project, settings, device, backbone, texts, panels, targets, regions, j: int,
              goal: float, judge: PanelJudge, judge_goal: float | None, cap: int,
              every: int) -> SingleRun:
    """A fresh network fitted to panel j alone (no classifiers) until its style loss is at
    most `goal` and, at a judge check, its judge identity at least `judge_goal` (no judge
    target: the style alone), or `cap` steps."""
    clock = Clock()
    run = SingleRun()
    net, conds, learn, _ = style_network(project, settings, device, texts)
    one = [panels[j]]
    objective = style_objective(project, settings, device, net, one, conds[[j]], [texts[j]],
                                backbone)
    # The learned condition the network last ran with (fit_comic keeps its own copy).
    cond = [conds[[j]]]
    hook = net.register_forward_pre_hook(
        lambda _, args: cond.__setitem__(0, args[1].detach().clone())
        if len(args) > 1 and args[1] is not None else None)

    def elapsed() -> tuple[int, float, float]:
        wall, cpu = clock.read()
        return len(run.history), wall - run.judge_wall, cpu - run.judge_cpu

    def should_stop() -> bool:
        steps = len(run.history)
        styled = bool(run.history) and run.history[-1].terms["style"] <= goal
        if styled and run.style_at is None:
            run.style_at = elapsed()
        if judge_goal is None:
            if styled:
                run.both_at = run.style_at
            return styled
        if steps % every:
            return False
        check = Clock()
        identity = judge.identity(net, cond[0], j)
        wall, cpu = check.read()
        run.judge_wall, run.judge_cpu = run.judge_wall + wall, run.judge_cpu + cpu
        run.judged.append((steps, identity))
        if identity >= judge_goal and run.judge_first is None:
            run.judge_first = steps
        if styled and identity >= judge_goal:
            run.both_at = elapsed()
        return run.both_at is not None

    fit_comic(net, one, conds[[j]], objective, None, targets[:, [j]], [regions[j]],
              preset=settings.preset.with_overrides(lam=0.0), steps=cap, seed=settings.seed,
              device=device, learn_conds=learn, progress=run.history.append,
              should_stop=should_stop)
    hook.remove()
    run.end = elapsed()
    return run


def ratio(single: float, joint: float, bound: str) -> str:
    return f"{bound}{single / joint:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="default: the sample's own")
    parser.add_argument("--steps", type=int, help="the joint loop's steps (default: the preset's)")
    parser.add_argument("--cap", type=int, default=CAP_STEPS,
                        help="most steps the one-panel loop takes on a panel")
    parser.add_argument("--judge-every", type=int, default=JUDGE_EVERY,
                        help="the one-panel loop's network is judged every this many steps")
    args = parser.parse_args()

    print(f"comicc time to quality: {machine()}")
    project, settings, device, preset, backbone = sample_setup(args.device, args.preset, None,
                                                               args.steps)
    print(f"{SAMPLE.name}: preset {preset.name} ({preset.size} px, {preset.steps} steps, "
          f"{preset.panels_per_step} panels per step, λ {preset.lam:g}, colour/edge/identity "
          f"{preset.colour_weight:g}/{preset.edge_weight:g}/{preset.identity_weight:g}), "
          f"{settings.stylenet} network, {settings.backend} backend, {device}  ({load()})",
          flush=True)

    clock = Clock()
    small, references, targets, manifest_regions = training_data(project, classify_side(preset))
    # As the build: the manifest's regions over the ones found by colour or by the heads.
    bank, found = train_and_locate(backbone, references, small, targets, manifest_regions,
                                   preset, seed=settings.seed, device=device)
    classifier_wall, classifier_cpu = clock.read()
    regions = [{**extra, **given} for extra, given in zip(found, manifest_regions, strict=True)]
    panels, _, targets, _ = training_data(project, preset.long_side, lazy=True)
    texts = panel_texts(project)
    n = len(panels)

    clock = Clock()
    net, conds, learn, _ = style_network(project, settings, device, texts)
    objective = style_objective(project, settings, device, net, panels, conds, texts, backbone)
    strengths = panel_strengths(project.comic)
    result = fit_comic(net, panels, conds, objective, bank, targets, regions, preset=preset,
                       steps=preset.steps, seed=settings.seed, device=device, learn_conds=learn,
                       **loss_options(strengths, preset))
    joint_wall, joint_cpu = clock.read()
    goal = style_loss_per_panel(net, panels, result.conds, objective, preset.size, device)
    print(f"joint loop: {n} panels, {preset.steps} steps, {joint_wall:.1f} s wall, "
          f"{joint_cpu:.1f} s CPU (+ classifiers {classifier_wall:.1f} s wall, "
          f"{classifier_cpu:.1f} s CPU)  ({load()})", flush=True)

    # The judge learns from the concept art as the build's judge stage does (not timed).
    clock = Clock()
    art, drawn, _, _ = training_data(project, JUDGE_SIDE)
    reference = learn_reference(load_judge(device), art, drawn, bank.element_ids, targets,
                                manifest_regions)
    judge = PanelJudge(load_judge(device), reference, art, strengths,
                       palette_places(strengths, regions, bank.colour_models), device,
                       render_options(settings, preset))
    judge_goal = [judge.identity(net, result.conds[j : j + 1], j) for j in range(n)]
    wall, cpu = clock.read()
    print(f"judge: panels at long side {JUDGE_SIDE} px, the manifest's regions; reference and "
          f"the joint loop's identity {wall:.1f} s wall, {cpu:.1f} s CPU (not charged)",
          flush=True)

    print(f"{'panel':>6}{'style':>9}{'start':>9}{'steps':>7}{'judge':>8}{'start':>8}"
          f"{'best':>13}{'end':>8}{'steps':>7}{'both':>7}{'wall s':>9}{'CPU s':>8}"
          f"{'judge CPU':>10}")
    style_wall = style_cpu = both_wall = both_cpu = judged_wall = judged_cpu = 0.0
    style_capped = both_capped = 0
    for j in range(n):
        run = fit_until(project, settings, device, backbone, texts, panels, targets, regions,
                        j, goal[j], judge, judge_goal[j], args.cap, args.judge_every)
        style = run.style_at or run.end
        both = run.both_at or run.end
        style_capped += run.style_at is None
        both_capped += run.both_at is None
        style_wall, style_cpu = style_wall + style[1], style_cpu + style[2]
        both_wall, both_cpu = both_wall + both[1], both_cpu + both[2]
        judged_wall, judged_cpu = judged_wall + run.judge_wall, judged_cpu + run.judge_cpu

        def steps(at: int | None) -> str:
            return f">{args.cap}" if at is None else str(at)

        identities = [v for _, v in run.judged]
        target = "-" if judge_goal[j] is None else f"{judge_goal[j]:.3f}"
        start = f"{identities[0]:.3f}" if identities else "-"
        best = (f"{max(identities):.3f} @{max(run.judged, key=lambda c: c[1])[0]}"
                if identities else "-")
        end = f"{identities[-1]:.3f}" if identities else "-"
        first = "-" if judge_goal[j] is None else steps(run.judge_first)
        # A logged loss is the network's after (its step) updates; a judged network has had
        # (the steps logged so far) updates.
        style_steps = steps(run.style_at and run.style_at[0] - 1)
        both_steps = style_steps if judge_goal[j] is None else steps(run.both_at and
                                                                     run.both_at[0])
        print(f"{j + 1:>6}{goal[j]:>9.2f}{run.history[0].terms['style']:>9.2f}"
              f"{style_steps:>7}{target:>8}{start:>8}{best:>13}{end:>8}{first:>7}"
              f"{both_steps:>7}{both[1]:>9.1f}{both[2]:>8.1f}{run.judge_cpu:>10.1f}",
              flush=True)

    style_bound = ">=" if style_capped else ""
    both_bound = ">=" if both_capped else ""
    print(f"one panel at a time, (a) to the joint loop's style loss on every panel: "
          f"{style_bound}{style_wall:.1f} s wall, {style_bound}{style_cpu:.1f} s CPU"
          + (f" ({style_capped} panel(s) stopped at the cap)" if style_capped else ""))
    print(f"one panel at a time, (b) to its style loss and judge identity on every panel: "
          f"{both_bound}{both_wall:.1f} s wall, {both_bound}{both_cpu:.1f} s CPU"
          + (f" ({both_capped} panel(s) stopped at the cap)" if both_capped else "")
          + f"; judge checks (not charged) {judged_wall:.1f} s wall, {judged_cpu:.1f} s CPU"
          f"  ({load()})")
    print(f"joint loop: {joint_wall:.1f} s wall, {joint_cpu:.1f} s CPU; with its classifiers "
          f"{joint_wall + classifier_wall:.1f} s wall, {joint_cpu + classifier_cpu:.1f} s CPU")
    for name, wall, cpu, bound in (("(a) style", style_wall, style_cpu, style_bound),
                                   ("(b) style and judge", both_wall, both_cpu, both_bound)):
        print(f"time to quality {name}, one-at-a-time / joint: {ratio(wall, joint_wall, bound)} "
              f"wall, {ratio(cpu, joint_cpu, bound)} CPU; counting the classifiers' training: "
              f"{ratio(wall, joint_wall + classifier_wall, bound)} wall, "
              f"{ratio(cpu, joint_cpu + classifier_cpu, bound)} CPU")


if __name__ == "__main__":
    main()
