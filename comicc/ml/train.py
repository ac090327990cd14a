"""The Comic Book Loss loop: fine-tune one style network over all panels of a comic.

    L = sum_j S_j(f(x_j, c_j), x_j) + lambda * sum_ij BCE(p_hat_ij, C_i(f(x_j, c_j)))

S_j comes from a style objective (Gram or CLIP backend), C_i are the frozen element
classifiers, c_j is panel j's condition row. Each step draws a mini-batch of panels.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from comicc.ml.backbone import resize, resize_long_side
from comicc.ml.classifiers import ClassifierBank, Regions
from comicc.ml.losses import StyleObjective, consistency_bce
from comicc.ml.presets import Preset


@dataclass(frozen=True)
class StepLog:
    """One optimisation step: the total loss, each weighted term, wall time."""

    step: int
    total: float
    terms: dict[str, float]
    seconds: float


@dataclass
class WarmStart:
    """A previous build's network, conditions and optimizer, to resume from."""

    net_state: Mapping[str, Tensor]
    conds: Tensor | None = None
    optimizer_state: Mapping[str, Any] | None = None


@dataclass
class StyleResult:
    """What a fit produced: the loss history and everything needed to resume or render."""

    history: list[StepLog]
    net_state: dict[str, Tensor]
    conds: Tensor
    optimizer_state: dict[str, Any]
    seconds_per_step: float
    stopped_early: bool = field(default=False)


def fit_comic(
    net: nn.Module,
    panels: Sequence[Tensor],
    conds: Tensor,
    objective: StyleObjective,
    classifiers: ClassifierBank | None,
    targets: Tensor,
    regions: Sequence[Regions],
    *,
    preset: Preset,
    lam: float,
    steps: int,
    seed: int,
    device: torch.device | str,
    learn_conds: bool = False,
    init: WarmStart | None = None,
    panels_per_step: int | None = None,
    progress: Callable[[StepLog], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> StyleResult:
    """Fine-tune `net` on all panels under the Comic Book Loss.

    panels: N images [3,h,w] in [0,1], resized to preset.size square for training.
    conds: [N, D] per-panel condition rows (D may be 0 for an unconditioned network);
    learned along with the network when learn_conds. targets: p_hat [E, N].
    regions[j]: element id -> (x, y, w, h) box in panel j, for location-aware
    consistency. init: resume a previous build (its conds, when given, replace `conds`).
    The classifier term is skipped when classifiers is None or lam is 0.
    """
    device = torch.device(device)
    torch.manual_seed(seed)  # the objective's own randomness (e.g. CLIP crops) follows it
    batches = torch.Generator().manual_seed(seed)
    n = len(panels)
    batch_size = min(n, panels_per_step or preset.panels_per_step)

    net.to(device).train()
    if init is not None:
        net.load_state_dict(init.net_state)
        if init.conds is not None:
            conds = init.conds
    conds = conds.detach().to(device, torch.float32).clone().requires_grad_(learn_conds)
    params = list(net.parameters()) + ([conds] if learn_conds else [])
    optimizer = torch.optim.Adam(params, lr=preset.lr)
    if init is not None and init.optimizer_state is not None:
        try:
            optimizer.load_state_dict(init.optimizer_state)
        except ValueError:
            pass  # the parameter set changed (e.g. learn_conds toggled): restart Adam's moments

    size = (preset.size, preset.size)
    sources = torch.cat([resize(p[None].float(), size) for p in panels]).to(device)
    targets = targets.to(device, torch.float32)
    use_classifiers = classifiers is not None and lam > 0
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    history: list[StepLog] = []
    stopped = False
    for step in range(steps):
        if should_stop is not None and should_stop():
            stopped = True
            break
        started = time.perf_counter()
        if batch_size == n:
            index = torch.arange(n)
        else:
            index = torch.randperm(n, generator=batches)[:batch_size]
        on_device = index.to(device)
        x = sources[on_device]
        with amp:
            styled = net(x, conds[on_device] if conds.shape[1] else None)
            terms = dict(objective(styled, x, on_device))
            if use_classifiers:
                batch_regions = [regions[j] if j < len(regions) else {} for j in index.tolist()]
                probs = classifiers.probabilities(styled.float(), batch_regions)
                # lambda * sum over (element, panel) pairs of the BCE, as the loss is defined
                bce = consistency_bce(probs, targets[:, on_device])
                terms["consistency"] = lam * bce * probs.numel()
        total = torch.stack([t.float() for t in terms.values()]).sum()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

        log = StepLog(
            step=step,
            total=total.item(),
            terms={name: t.item() for name, t in terms.items()},
            seconds=time.perf_counter() - started,
        )
        history.append(log)
        if progress is not None:
            progress(log)

    return StyleResult(
        history=history,
        net_state={k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
        conds=conds.detach().cpu().clone(),
        optimizer_state=optimizer.state_dict(),
        seconds_per_step=sum(h.seconds for h in history) / max(1, len(history)),
        stopped_early=stopped,
    )


def render_panels(
    net: nn.Module,
    panels_full_res: Sequence[Tensor],
    conds: Tensor,
    long_side: int,
    device: torch.device | str,
) -> list[Tensor]:
    """Run the trained network on each panel at output resolution (aspect kept).

    Returns CPU tensors [3,H,W] in [0,1] whose longer side is `long_side`.
    """
    device = torch.device(device)
    was_training = net.training
    net.to(device).eval()
    out = []
    with torch.inference_mode():
        for j, panel in enumerate(panels_full_res):
            x = resize_long_side(panel[None].float().to(device), long_side)
            cond = conds[j : j + 1].to(device) if conds.shape[1] else None
            out.append(net(x, cond).clamp(0, 1)[0].cpu())
    net.train(was_training)
    return out


def matrix_agreement(probs: Tensor, targets: Tensor) -> float:
    """Mean BCE between classifier probabilities and p_hat (both [E, N]); 0 is perfect."""
    return consistency_bce(probs.detach().float(), targets.to(probs.device)).item()
