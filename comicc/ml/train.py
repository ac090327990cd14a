"""The Comic Book Loss loop: fine-tune one style network over all panels of a comic.

    L = sum_j S_j(f(x_j, c_j), x_j) + lambda * sum_ij BCE(p_hat_ij, C_i(f(x_j, c_j)))

S_j comes from a style objective (Gram or CLIP backend), C_i are the frozen element
classifiers, c_j is panel j's condition row. Each step draws a mini-batch of panels.
An objective may offer `prepare_sources(sources [M,3,s,s], panel_index [M])`: fit_comic
calls it once with the training-size sources it trains on, so fixed features of them
(e.g. content features) can be computed once instead of every step.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from comicc.manifest.choices import Keep
from comicc.ml.backbone import resize, resize_long_side
from comicc.ml.classifiers import WEAK_ACCURACY, ClassifierBank, Regions, colour_pixels
from comicc.ml.distributed import (
    all_reduce_sum,
    any_rank,
    is_distributed,
    rank_batch,
    shard,
    wrap_module,
)
from comicc.ml.identity import (
    background_masks,
    background_term,
    crop_terms,
    element_masks,
    identity_terms,
    own_colour_masks,
)
from comicc.ml.keep import keep_batch
from comicc.ml.losses import StyleObjective, consistency_bce, random_view
from comicc.ml.palette import keep_palette, palette_mask, places
from comicc.ml.presets import Preset
from comicc.ml.strength import apply_strength

# On CUDA the losses are read back to the host every this many steps: each read waits for
# the GPU to finish, and the loop should keep it fed.
LOG_EVERY_CUDA = 25
COMPILE_VARIABLE = "COMICC_COMPILE"


@dataclass(frozen=True)
class StepLog:
    """One optimisation step: the total loss, each weighted term, wall time (averaged over
    the steps read back together, see fit_comic's log_every)."""

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


class PanelStyler(nn.Module):
    """The style network with the comic's per-panel condition rows: f(x_j, c_j).

    Keeping the conditions in the module lets one DistributedDataParallel wrapper carry
    both: learned conditions are then averaged across ranks like any other parameter.
    """

    def __init__(self, net: nn.Module, conds: Tensor, learn_conds: bool) -> None:
        super().__init__()
        self.net = net
        if learn_conds:
            self.conds = nn.Parameter(conds)
        else:
            self.register_buffer("conds", conds)

    def forward(self, x: Tensor, panel_index: Tensor) -> Tensor:
        """Style x [B,3,H,W], row b being panel panel_index[b] of the comic."""
        return self.net(x, self.conds[panel_index] if self.conds.shape[1] else None)


# Long only by its keyword arguments and their docstring; the loop itself is ~50 lines.
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
    steps: int,
    seed: int,
    device: torch.device | str,
    learn_conds: bool = False,
    init: WarmStart | None = None,
    progress: Callable[[StepLog], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    mixed_precision: bool | None = None,
    compile: bool | None = None,
    log_every: int | None = None,
    distributed: bool = False,
    focus: Sequence[int] = (),
    strengths: Tensor | None = None,
    keeps: Sequence[Keep] | None = None,
    palettes: Sequence[Sequence[str]] | None = None,
) -> StyleResult:
    """Fine-tune `net` on all panels under the Comic Book Loss, configured by `preset`
    (its lr, lambda, training size and panels per step).

    panels: N images [3,h,w] in [0,1] (any Sequence: they are read once, one at a time,
    and kept on the host at preset.size square; each step moves only its mini-batch to
    `device`, so device memory depends on the batch, not on N).
    conds: [N, D] per-panel condition rows (D may be 0 for an unconditioned network);
    learned along with the network when learn_conds. targets: p_hat [E, N].
    regions[j]: element id -> (x, y, w, h) box in panel j, for location-aware
    consistency. init: resume a previous build (its conds, when given, replace `conds`).
    The classifier term is skipped when classifiers is None or preset.lam is 0.

    mixed_precision: bf16 autocast (default: on CUDA). compile: torch.compile the network
    (default: the COMICC_COMPILE environment variable; falls back to eager on failure).
    log_every: steps between reading the losses back to the host (default 1 on CPU,
    LOG_EVERY_CUDA on CUDA, where each read waits for the GPU); `progress` then receives
    the steps in bursts. distributed: this process is one rank of an initialised
    torch.distributed group (see `comicc.ml.distributed`); it trains on its shard of the
    panels and every rank returns the same network. focus: panels (of this rank's share)
    that fill each step's mini-batch first, the others drawn at random around them; more
    focused panels than the batch holds take turns. A warm start after an edit focuses on
    the edited panels. strengths: [N,1,s,s] per-panel strength maps at preset.size (see
    `comicc.ml.strength`); the classifier term then judges each panel at its strength, as
    it will print, while the style objective judges the network's own output. keeps: each
    panel's `keep` (see `comicc.ml.keep`), applied before its strength in that picture.
    palettes: per panel, the elements whose own colours it keeps inside their regions (see
    `comicc.ml.palette`), applied after `keep`; the classifier and identity terms judge them.
    The colour term uses the bank's colour models where it has them, and the background
    term (preset.background_weight) the network's own output before this fit, both as
    `Consistency` describes.
    """
    device = torch.device(device)
    rank, world = _rank_and_world(distributed)
    torch.manual_seed(seed + rank)  # the objective's own randomness (e.g. CLIP crops) follows it
    n = len(panels)
    if n < world:
        raise ValueError(f"{n} panel(s) cannot be shared between {world} processes")
    mine = shard(n, rank, world)
    batches = Batches(mine, min(len(mine), rank_batch(min(n, preset.panels_per_step), world)),
                      focus, torch.Generator().manual_seed(seed + rank))

    size = (preset.size, preset.size)
    # Training-size sources stay on the host (pinned for asynchronous copies on CUDA).
    sources = torch.cat([resize(panels[j][None].float().cpu(), size) for j in mine])
    lam = preset.lam if classifiers is not None else 0.0
    net.to(device).train()
    # The untuned network's rendering, for the background term: before a warm start's state.
    anchors = (_anchors(net, conds, sources, batches.panel_ids, device)
               if preset.background_weight and lam > 0 else None)
    styler, optimizer = _restore(net, conds, init, learn_conds, preset.lr, device)
    on_cuda = device.type == "cuda"
    model: nn.Module = wrap_module(styler, device) if distributed else styler
    forward = _compiled(model) if want_compile(compile) else model
    if on_cuda:
        sources = sources.pin_memory()
    prepare = getattr(objective, "prepare_sources", None)
    if prepare is not None:
        prepare(sources, batches.panel_ids)  # an objective may precompute fixed features
    targets = targets.to(device, torch.float32)
    if strengths is not None:
        strengths = strengths.to(device, torch.float32)
    consistency = Consistency(classifiers, targets, regions, lam,
                              colour_weight=preset.colour_weight, edge_weight=preset.edge_weight,
                              identity_weight=preset.identity_weight,
                              structure_weight=preset.structure_weight,
                              background_weight=preset.background_weight,
                              views=preset.consistency_views,
                              generator=torch.Generator().manual_seed(seed),
                              strengths=strengths, keeps=keeps, palettes=palettes,
                              anchors=anchors)
    amp_on = on_cuda if mixed_precision is None else mixed_precision and on_cuda
    amp = torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp_on)
    losses = LossLog(max(1, log_every or (LOG_EVERY_CUDA if on_cuda else 1)), distributed,
                     progress)

    def backward(run: Callable[[Tensor, Tensor], Tensor], x: Tensor, on_device: Tensor,
                 index: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        total, terms = _loss(run, objective, x, on_device, index, consistency, amp)
        optimizer.zero_grad(set_to_none=True)
        (total * world).backward()  # DDP averages over ranks; the loss is a sum over panels
        return total, terms

    stopped = False
    for step in range(steps):
        if _should_stop(should_stop, distributed, device):
            stopped = True
            break
        rows = batches.next()
        index = batches.panel_ids[rows]
        x, on_device = _to_device(sources[rows], index, device)
        try:
            total, terms = backward(forward, x, on_device, index)
        except Exception as exc:
            if forward is model or step > 0:
                raise
            _compile_failed(exc)
            forward = model
            total, terms = backward(forward, x, on_device, index)
        optimizer.step()
        losses.add(total, terms)
    losses.flush()

    return StyleResult(
        history=losses.history,
        net_state={k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()},
        conds=styler.conds.detach().cpu().clone(),
        optimizer_state=optimizer.state_dict(),
        seconds_per_step=losses.seconds() / max(1, len(losses.history)),
        stopped_early=stopped,
    )


class Batches:
    """Which of this rank's panels each step trains on: all of them when they fit one
    batch; else the focused ones first (in random order, so more of them than the batch
    take turns), then the others at random."""

    def __init__(self, mine: list[int], batch_size: int, focus: Sequence[int],
                 generator: torch.Generator) -> None:
        self.panel_ids = torch.tensor(mine)
        self.size = batch_size
        wanted = set(focus)
        self.focused = {r for r, j in enumerate(mine) if j in wanted}
        self.generator = generator

    def next(self) -> Tensor:
        """The rows (indices into this rank's panels) of the next mini-batch."""
        count = len(self.panel_ids)
        if self.size == count:
            return torch.arange(count)
        if self.focused:
            order = torch.randperm(count, generator=self.generator).tolist()
            order.sort(key=lambda r: r not in self.focused)
            return torch.tensor(order[: self.size])
        return torch.randperm(count, generator=self.generator)[: self.size]


class LossLog:
    """The loss history, read back from the device every `every` steps (each read waits
    for the device, so on CUDA it is done in bursts) and summed over ranks when distributed."""

    def __init__(self, every: int, distributed: bool,
                 progress: Callable[[StepLog], None] | None) -> None:
        self.every, self.distributed, self.progress = every, distributed, progress
        self.history: list[StepLog] = []
        self.pending: list[Tensor] = []  # per step: [total, *terms], still on the device
        self.names: list[str] = []
        self.started = self.window = time.perf_counter()

    def add(self, total: Tensor, terms: dict[str, Tensor]) -> None:
        self.names = list(terms)
        self.pending.append(torch.stack([total.detach(),
                                         *(t.detach().float() for t in terms.values())]))
        if len(self.pending) >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        values = torch.stack(self.pending)
        if self.distributed:
            all_reduce_sum(values)  # each rank logged its own panels: the comic's loss is the sum
        rows = values.tolist()  # the one host-device sync of the window
        seconds = (time.perf_counter() - self.window) / len(rows)
        for row in rows:
            log = StepLog(len(self.history), row[0],
                          dict(zip(self.names, row[1:], strict=True)), seconds)
            self.history.append(log)
            if self.progress is not None:
                self.progress(log)
        self.pending.clear()
        self.window = time.perf_counter()  # the next window does not pay for the progress display

    def seconds(self) -> float:
        return time.perf_counter() - self.started


def _restore(net: nn.Module, conds: Tensor, init: WarmStart | None, learn_conds: bool,
             lr: float, device: torch.device) -> tuple[PanelStyler, torch.optim.Adam]:
    """The styler and its optimizer, resumed from `init` (a previous build) when given."""
    if init is not None:
        net.load_state_dict(init.net_state)
        if init.conds is not None:
            conds = init.conds
    conds = conds.detach().to(device, torch.float32).clone()
    styler = PanelStyler(net, conds, learn_conds)
    on_cuda = device.type == "cuda"
    if on_cuda:
        styler.to(memory_format=torch.channels_last)  # cuDNN's fast layout for convolutions
    # The same order as before conditions moved into PanelStyler: saved Adam states still fit.
    params = list(net.parameters()) + ([styler.conds] if learn_conds else [])
    optimizer = torch.optim.Adam(params, lr=lr, fused=on_cuda)
    if init is not None and init.optimizer_state is not None:
        try:
            optimizer.load_state_dict(init.optimizer_state)
        except ValueError:
            pass  # the parameter set changed (e.g. learn_conds toggled): restart Adam's moments
    return styler, optimizer


@torch.no_grad()
def _anchors(net: nn.Module, conds: Tensor, sources: Tensor, panel_ids: Tensor,
             device: torch.device) -> dict[int, Tensor]:
    """Per panel id, the network's output on its training-size source before fine-tuning
    (the named style as the untuned network draws it), on the host: as many numbers again
    as the training sources (96 panels at 192 px: 42 MiB)."""
    styler = PanelStyler(net, conds.detach().to(device, torch.float32), False).eval()
    out = {}
    for rows in torch.arange(len(sources)).split(8):
        ids = panel_ids[rows]
        styled = styler(sources[rows].to(device), ids.to(device)).float().cpu()
        out.update({int(j): y for j, y in zip(ids, styled, strict=True)})
    net.train()
    return out


def _should_stop(should_stop: Callable[[], bool] | None, distributed: bool,
                 device: torch.device) -> bool:
    stop = should_stop is not None and should_stop()
    if distributed and should_stop is not None:
        stop = any_rank(stop, device)  # every rank must leave the loop at the same step
    return stop


def _to_device(x: Tensor, index: Tensor, device: torch.device) -> tuple[Tensor, Tensor]:
    """A mini-batch and its panel indices on the device (asynchronously on CUDA)."""
    if device.type != "cuda":
        return x, index
    x = x.pin_memory().to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
    return x, index.pin_memory().to(device, non_blocking=True)


def judged_heads(bank: ClassifierBank) -> list[int]:
    """Indices of the heads whose BCE enters the loss: every head but those whose held-out
    accuracy was measured below WEAK_ACCURACY. A head that cannot tell its element apart on
    drawings it never saw pulls the styled panel towards whatever texture it does read, and
    the independent judge sees the element less well for it (meadow, docs/pretrained.md);
    the identity, structure, colour and edge terms still keep that element. A head whose accuracy
    could not be measured (too few sources to hold any out) keeps its term."""
    return [i for i, element in enumerate(bank.element_ids)
            if not bank.accuracy.get(element, float("nan")) < WEAK_ACCURACY]


@dataclass
class Consistency:
    """The consistency half of the Comic Book Loss for one fit: the classifiers' BCE against
    p̂ and the identity terms inside the present elements' regions, all weighted by λ, on
    the picture that will print (the network's output with each panel's `keep` and strength).
    """

    classifiers: ClassifierBank | None
    targets: Tensor  # p̂ [E, N] on the device
    regions: Sequence[Regions]
    lam: float
    colour_weight: float = 0.0
    edge_weight: float = 0.0
    identity_weight: float = 0.0
    structure_weight: float = 0.0  # the content loss of each present element's crop
    background_weight: float = 0.0  # outside the elements' regions: the untuned style's chroma
    views: int = 0  # random views the classifiers judge (expectation over transformations)
    # Draws the views: seeded alike on every rank, so a distributed fit judges as one process.
    generator: torch.Generator = field(default_factory=torch.Generator)
    strengths: Tensor | None = None  # [N, 1, s, s] on the device
    keeps: Sequence[Keep] | None = None
    # Per panel id, the elements whose own colours it keeps (`comicc.ml.palette`).
    palettes: Sequence[Sequence[str]] | None = None
    # Per panel id, the untuned network's output at the training size (host), for the
    # background term; set by `fit_comic` before the first step.
    anchors: Mapping[int, Tensor] | None = None
    # Each panel's present elements (from p̂, read once on the host), and the art crops'
    # embeddings and content features by (panel, element): the art never changes during a fit.
    present: list[list[str]] = field(init=False, repr=False)
    # Rows of p̂ whose heads the BCE reads: not those measured weak (see `judged_heads`).
    judged: Tensor = field(init=False, repr=False)
    _art_embeddings: dict[tuple[int, str], Tensor] = field(default_factory=dict, init=False,
                                                           repr=False)
    _art_content: dict[tuple[int, str], list[Tensor]] = field(default_factory=dict, init=False,
                                                              repr=False)
    _own_pixels: dict[tuple[int, str], Tensor] = field(default_factory=dict, init=False,
                                                       repr=False)
    _mask_by_panel: dict[int, Tensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        ids = self.classifiers.element_ids if self.classifiers is not None else []
        rows = (self.targets > 0.5).cpu().T.tolist() if ids else []
        self.present = [[e for e, here in zip(ids, row, strict=True) if here] for row in rows]
        self.judged = torch.tensor(judged_heads(self.classifiers) if self.classifiers else [],
                                   dtype=torch.long, device=self.targets.device)

    @property
    def active(self) -> bool:
        return self.lam > 0 and self.classifiers is not None

    def printed(self, styled: Tensor, x: Tensor, index: Tensor, on_device: Tensor) -> Tensor:
        """The batch as it will print: each panel's `keep`, its elements' own colours, then
        its strength."""
        out = styled.float()
        if self.keeps is not None:
            out = keep_batch(out, x.float(), [self.keeps[j] for j in index.tolist()])
        if self.palettes is not None:
            out = keep_palette(out, x.float(), self._palette_masks(x, index.tolist()))
        if self.strengths is not None:
            out = apply_strength(out, x.float(), self.strengths[on_device])
        return out

    def _palette_masks(self, x: Tensor, panels: list[int]) -> Tensor:
        """[B,1,H,W] on x's device: each row's `palette_mask` for the elements whose colours
        its panel keeps; the art never changes, so each panel's is drawn (and moved to the
        device) once."""
        assert self.palettes is not None
        models = self.classifiers.colour_models if self.classifiers is not None else {}
        for b, j in enumerate(panels):
            if j not in self._mask_by_panel:
                regions = self.regions[j] if j < len(self.regions) else {}
                mask = palette_mask(x[b].float(), places(self.palettes[j], regions, models))
                self._mask_by_panel[j] = mask.to(x.device)
        return torch.stack([self._mask_by_panel[j] for j in panels])

    def terms(self, printed: Tensor, x: Tensor, index: Tensor,
              on_device: Tensor) -> dict[str, Tensor]:
        """λ-weighted {"consistency", "identity", "structure", "colour", "edges"} for a batch
        (rows: panels `index`); a term whose weight is 0 is left out, except "consistency"."""
        assert self.classifiers is not None
        batch_regions = [self.regions[j] if j < len(self.regions) else {}
                         for j in index.tolist()]
        out = {"consistency": printed.new_zeros(())}
        if len(self.judged):
            views = [printed] if not self.views else [random_view(printed, self.generator)
                                                      for _ in range(self.views)]
            targets = self.targets[self.judged][:, on_device]
            bce = torch.stack([
                consistency_bce(self.classifiers.probabilities(view, batch_regions)[self.judged],
                                targets)
                for view in views
            ]).mean()
            # lambda * sum over (element, panel) pairs of the BCE, as the loss is defined
            out["consistency"] = self.lam * bce * targets.numel()
        panels = index.tolist()
        present = [self.present[j] for j in panels]
        if self.identity_weight or self.structure_weight:
            similarity, structure = crop_terms(
                self.classifiers.backbone, printed, x.float(), batch_regions, present,
                self.classifiers.size, panels, self._art_embeddings, self._art_content,
                structure=bool(self.structure_weight), similarity=bool(self.identity_weight))
            if similarity is not None:
                out["identity"] = self.lam * self.identity_weight * (1 - similarity).sum()
            if structure is not None:
                out["structure"] = self.lam * self.structure_weight * structure.sum()
        if not (self.colour_weight or self.edge_weight or self.background_weight):
            return out
        rows, masks = element_masks(batch_regions, present, *printed.shape[-2:])
        rows, masks = rows.to(printed.device), masks.to(printed.device)
        if self.colour_weight or self.edge_weight:
            # With the elements' colour models (the classify stage's), each element's colour
            # error counts on the pixels drawn in its own colours, not the sky behind it.
            focus = None
            if self.classifiers.colour_models:
                focus = own_colour_masks(masks, self._pixels(x, panels, present))
            identity = identity_terms(printed[rows], x.float()[rows], masks, focus)
            # Each element against its own art, averaged within its panel: a panel weighs
            # as one, however many elements it shows.
            share = 1.0 / torch.bincount(rows, minlength=len(present))[rows].to(printed.dtype)
            out["colour"] = self.lam * self.colour_weight * (identity["colour"] * share).sum()
            out["edges"] = self.lam * self.edge_weight * (identity["edges"] * share).sum()
        if self.background_weight and self.anchors is not None:
            with torch.no_grad():
                anchor = torch.stack([self.anchors[j] for j in panels]).to(printed.device)
                anchor = self.printed(anchor, x, index, on_device)
            background = background_masks(rows, masks, len(panels))
            out["background"] = self.lam * self.background_weight * background_term(
                printed, anchor, background).sum()
        return out

    def _pixels(self, x: Tensor, panels: list[int], present: list[list[str]]) -> list[Tensor | None]:
        """Per (row, present element), in `element_masks`' order, the art's pixels in the
        element's own colours (None without a colour model); the art never changes, so
        each is computed once per (panel, element)."""
        assert self.classifiers is not None
        out: list[Tensor | None] = []
        for b, elements in enumerate(present):
            for element in elements:
                model = self.classifiers.colour_models.get(element)
                key = (panels[b], element)
                if model is not None and key not in self._own_pixels:
                    self._own_pixels[key] = colour_pixels(model, x[b])
                out.append(self._own_pixels.get(key))
        return out


def _loss(
    forward: Callable[[Tensor, Tensor], Tensor],
    objective: StyleObjective,
    x: Tensor,
    index_on_device: Tensor,
    index: Tensor,
    consistency: Consistency,
    amp: torch.autocast,
) -> tuple[Tensor, dict[str, Tensor]]:
    """One mini-batch's Comic Book Loss: its total and its named, weighted terms.

    The style objective sees the network's output; the consistency terms see the picture
    that will print.
    """
    classifiers = consistency.classifiers
    sharing = classifiers.backbone.sharing() if consistency.active and classifiers else \
        contextlib.nullcontext()
    with amp, sharing:
        styled = forward(x, index_on_device)
        terms = dict(objective(styled, x, index_on_device))
        if consistency.active:
            printed = consistency.printed(styled, x, index, index_on_device)
            terms.update(consistency.terms(printed, x, index, index_on_device))
    total = torch.stack([t.float() for t in terms.values()]).sum()
    return total, terms


def _rank_and_world(distributed: bool) -> tuple[int, int]:
    if not distributed:
        return 0, 1
    if not is_distributed():
        raise RuntimeError("distributed=True needs an initialised torch.distributed group")
    import torch.distributed as dist

    return dist.get_rank(), dist.get_world_size()


def want_compile(flag: bool | None) -> bool:
    """Whether to torch.compile: the flag, else the COMICC_COMPILE environment variable."""
    if flag is not None:
        return flag
    return os.environ.get(COMPILE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def _compiled(model: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
    """torch.compile(model), or the model itself where this platform cannot compile."""
    try:
        return torch.compile(model)  # type: ignore[return-value]
    except Exception as exc:  # e.g. no compiler backend for this Python or platform
        _compile_failed(exc)
        return model


def _compile_failed(exc: Exception) -> None:
    reason = str(exc).splitlines()[0] if str(exc) else ""
    warnings.warn(
        f"torch.compile failed ({type(exc).__name__}: {reason}); training without it",
        RuntimeWarning,
        stacklevel=3,
    )


def render_panels(
    net: nn.Module,
    panels_full_res: Sequence[Tensor],
    conds: Tensor,
    long_side: int,
    device: torch.device | str,
    work_size: int | None = None,
    detail: float = 0.0,
) -> list[Tensor]:
    """Run the trained network on each panel; CPU tensors [3,H,W] in [0,1], long side
    `long_side`, aspect kept. See `iter_rendered` for work_size and detail."""
    return list(iter_rendered(net, panels_full_res, conds, long_side, device, work_size, detail))


def iter_rendered(
    net: nn.Module,
    panels_full_res: Sequence[Tensor],
    conds: Tensor,
    long_side: int,
    device: torch.device | str,
    work_size: int | None = None,
    detail: float = 0.0,
) -> Iterator[Tensor]:
    """`render_panels` one panel at a time: only one output-size panel is alive at once
    when the caller encodes or stores each before asking for the next.

    work_size None: the network runs on the panel at output resolution. work_size s: it
    runs on the panel at s x s, exactly the geometry it was fine-tuned on, and its output
    is upscaled (bicubic) to the output size, so what is printed is what the Comic Book
    Loss optimised: a network with fixed-size strokes behaves differently at another
    scale (at 6x the pixels, classifier gains at the training size are lost). detail in
    [0, 1] then adds back that share of the art's own fine detail, the part of the
    output-resolution panel that the s x s view cannot hold: the artist's lines stay sharp
    in print while colour and texture come from the network.
    """
    device = torch.device(device)
    was_training = net.training
    net.to(device).eval()
    try:
        for j in range(len(panels_full_res)):
            # Entered per panel: inference mode must not leak into the caller between yields.
            with torch.inference_mode():
                x = resize_long_side(panels_full_res[j][None].float().to(device), long_side)
                cond = conds[j : j + 1].to(device) if conds.shape[1] else None
                if work_size is None:
                    out = net(x, cond).clamp(0, 1)
                else:
                    small = resize(x, (work_size, work_size))
                    out = _upscale(net(small, cond).clamp(0, 1), x.shape[-2:])
                    if detail:
                        out = (out + detail * (x - _upscale(small, x.shape[-2:]))).clamp(0, 1)
            yield out[0].cpu()
    finally:
        net.train(was_training)


def _upscale(x: Tensor, size: Sequence[int]) -> Tensor:
    return nn.functional.interpolate(x, size=tuple(size), mode="bicubic",
                                     align_corners=False).clamp(0, 1)


def matrix_agreement(probs: Tensor, targets: Tensor) -> float:
    """Mean BCE between classifier probabilities and p_hat (both [E, N]); 0 is perfect."""
    return consistency_bce(probs.detach().float(), targets.to(probs.device)).item()
