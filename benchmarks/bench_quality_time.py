"""Time to the same quality: the joint loop against a CLIPstyler-style loop, on the sample.

    python benchmarks/bench_quality_time.py                  # samples/lighthouse, draft, CPU
    python benchmarks/bench_quality_time.py --cap 300 --device cuda --preset standard

The joint loop is the build's style stage: `fit_comic` over all panels for the preset's
steps, with the classifiers (whose training is timed too). Its network's style loss on each
panel afterwards is that panel's target. The CLIPstyler-style loop then fits a fresh network
to each panel alone (no classifiers) until its style loss on that panel reaches the target,
or `--cap` steps. Equal steps would not compare like with like: the joint loop visits
`panels_per_step` panels per step, the one-panel loop one panel per step on each of them.

Prints, for each loop, wall and CPU seconds to the targets (set-up included: the network,
its conditions and the objective's targets, as a build makes them) and the ratios.
A panel that reaches the cap counts with the cap's time, so the one-panel figure is then
a lower bound (marked >=). The loss of a step is the network's before that step's update:
the one-panel loop is charged one step past the one whose network reached the target.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scale import SAMPLE, Clock, load, machine, sample_setup  # noqa: E402, I001 (threads first)
import torch  # noqa: E402

from comicc.engine.style_stage import (  # noqa: E402
    classify_side,
    panel_texts,
    style_network,
    style_objective,
    training_data,
)
from comicc.ml.backbone import resize  # noqa: E402
from comicc.ml.classifiers import train_for_preset  # noqa: E402
from comicc.ml.presets import PRESETS  # noqa: E402
from comicc.ml.train import StepLog, fit_comic  # noqa: E402

# The one-panel loop stops here if a panel never reaches the joint loop's style loss.
CAP_STEPS = 300


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


def fit_until(project, settings, device, backbone, texts, panels, targets, regions, j: int,
              goal: float, cap: int) -> tuple[list[StepLog], float, float]:
    """A fresh network fitted to panel j alone (no classifiers) until its style loss is at
    most `goal` or `cap` steps: its loss history, wall and CPU seconds (set-up included)."""
    clock = Clock()
    net, conds, learn, _ = style_network(project, settings, device, texts)
    one = [panels[j]]
    objective = style_objective(project, settings, device, net, one, conds[[j]], [texts[j]],
                                backbone)
    history: list[StepLog] = []
    fit_comic(net, one, conds[[j]], objective, None, targets[:, [j]], [regions[j]],
              preset=settings.preset.with_overrides(lam=0.0), steps=cap, seed=settings.seed,
              device=device, learn_conds=learn, progress=history.append,
              should_stop=lambda: bool(history) and history[-1].terms["style"] <= goal)
    return (history, *clock.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", choices=sorted(PRESETS), help="default: the sample's own")
    parser.add_argument("--steps", type=int, help="the joint loop's steps (default: the preset's)")
    parser.add_argument("--cap", type=int, default=CAP_STEPS,
                        help="most steps the one-panel loop takes on a panel")
    args = parser.parse_args()

    print(f"comicc time to quality: {machine()}")
    project, settings, device, preset, backbone = sample_setup(args.device, args.preset, None,
                                                               args.steps)
    print(f"{SAMPLE.name}: preset {preset.name} ({preset.size} px, {preset.steps} steps, "
          f"{preset.panels_per_step} panels per step), {settings.stylenet} network, "
          f"{settings.backend} backend, {device}  ({load()})", flush=True)

    clock = Clock()
    small, references, targets, regions = training_data(project, classify_side(preset))
    bank = train_for_preset(backbone, references, small, targets, regions, preset,
                            seed=settings.seed, device=device)
    classifier_wall, classifier_cpu = clock.read()
    panels, _, targets, regions = training_data(project, preset.long_side, lazy=True)
    texts = panel_texts(project)
    n = len(panels)

    clock = Clock()
    net, conds, learn, _ = style_network(project, settings, device, texts)
    objective = style_objective(project, settings, device, net, panels, conds, texts, backbone)
    result = fit_comic(net, panels, conds, objective, bank, targets, regions, preset=preset,
                       steps=preset.steps, seed=settings.seed, device=device, learn_conds=learn)
    joint_wall, joint_cpu = clock.read()
    goal = style_loss_per_panel(net, panels, result.conds, objective, preset.size, device)
    print(f"joint loop: {n} panels, {preset.steps} steps, {joint_wall:.1f} s wall, "
          f"{joint_cpu:.1f} s CPU (+ classifiers {classifier_wall:.1f} s wall, "
          f"{classifier_cpu:.1f} s CPU)  ({load()})", flush=True)

    print(f"{'panel':>6}{'target':>10}{'start':>10}{'reached':>10}{'steps':>8}"
          f"{'wall s':>9}{'CPU s':>8}")
    single_wall = single_cpu = 0.0
    capped = 0
    for j in range(n):
        history, wall, cpu = fit_until(project, settings, device, backbone, texts, panels,
                                       targets, regions, j, goal[j], args.cap)
        single_wall, single_cpu = single_wall + wall, single_cpu + cpu
        reached = history[-1].terms["style"] <= goal[j]
        capped += not reached
        steps = f"{len(history) - 1}" if reached else f">{args.cap}"
        print(f"{j + 1:>6}{goal[j]:>10.4f}{history[0].terms['style']:>10.4f}"
              f"{history[-1].terms['style']:>10.4f}{steps:>8}{wall:>9.1f}{cpu:>8.1f}", flush=True)

    bound = ">=" if capped else ""
    print(f"one panel at a time, to the joint loop's style loss on every panel: "
          f"{bound}{single_wall:.1f} s wall, {bound}{single_cpu:.1f} s CPU"
          + (f" ({capped} panel(s) stopped at the cap)" if capped else "") + f"  ({load()})")
    print(f"joint loop: {joint_wall:.1f} s wall, {joint_cpu:.1f} s CPU; with its classifiers "
          f"{joint_wall + classifier_wall:.1f} s wall, {joint_cpu + classifier_cpu:.1f} s CPU")
    print(f"time to quality, one-at-a-time / joint: {bound}{single_wall / joint_wall:.2f}x wall, "
          f"{bound}{single_cpu / joint_cpu:.2f}x CPU; counting the classifiers' training: "
          f"{bound}{single_wall / (joint_wall + classifier_wall):.2f}x wall, "
          f"{bound}{single_cpu / (joint_cpu + classifier_cpu):.2f}x CPU")


if __name__ == "__main__":
    main()
