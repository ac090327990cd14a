"""The ML stages of a build: train the element classifiers, then restyle every panel.

Glue between the manifest and `comicc.ml`: it turns panels, references, directions and
styles into tensors, picks the network, its per-panel conditions and the style objective,
runs the Comic Book Loss (warm-started from the last build when one fits), and returns
the styled panels and a summary as bytes for the cache.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.utils.deterministic
from PIL import Image
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column
from rich.text import Text

from comicc.engine.cache import Cache, Entry
from comicc.engine.engine import Inputs
from comicc.engine.settings import BuildSettings
from comicc.engine.stages import (
    CLASSIFIERS,
    WARM_START_KEYS,
    Log,
    panel_print_sizes,
    scenes,
    with_found_regions,
)
from comicc.manifest.choices import Keep
from comicc.manifest.diagnostics import AuthorError, Diagnostic
from comicc.manifest.images import load_image
from comicc.manifest.load import Project
from comicc.manifest.matrix import panel_label, target_matrix
from comicc.manifest.strength import PanelStrength, panel_strengths
from comicc.ml.backbone import Backbone, load_backbone
from comicc.ml.classifiers import ClassifierBank, train_and_locate
from comicc.ml.device import resolve_device
from comicc.ml.distributed import (
    BuildGroup,
    Launch,
    StyleJob,
    configure_threads,
    launch_from_environ,
)
from comicc.ml.losses import StyleObjective
from comicc.ml.multistyle import MultiStyleNet
from comicc.ml.palette import Place, places
from comicc.ml.presets import Preset
from comicc.ml.print_render import print_render
from comicc.ml.strength import blend_panel, training_maps
from comicc.ml.train import (
    StepLog,
    StyleResult,
    WarmStart,
    fit_comic,
    matrix_agreement,
    render_panels,
    want_compile,
)

DEFAULT_STYLE = "ink-wash"
# Text the CLIP directional loss measures the restyling *from*.
SOURCE_TEXT = "a rough drawing"
# Below this total weight a learnt style row has no mix left in it.
MIX_EPS = 1e-6
# Panels per classifier pass in the style summary: the backbone on 180 panels at 192 px in
# one pass took 2.2 GB more, 16 at a time 0.3 GB.
SUMMARY_BATCH = 16



def _deterministic() -> None:
    """torch.use_deterministic_algorithms(True, warn_only=True), without its import of
    torch._inductor (3 s on the draft machine, a tenth of a warm-started style stage) when
    nothing will compile; torch.compile (COMICC_COMPILE) gets the public call."""
    if want_compile(None):
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch._C._set_deterministic_algorithms(True, warn_only=True)


def start_torch(settings: BuildSettings) -> torch.device:
    """Seed torch, make it deterministic, size its threads; returns the build's device."""
    launch = launch_from_environ()
    configure_threads(launch.local_world_size if launch is not None else 1)
    torch.manual_seed(settings.seed)
    _deterministic()
    # ...without first filling every new tensor with NaN, a check for kernels that read
    # memory they never wrote (none here): it cost 10-14% of a draft step on CPU.
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    try:
        return resolve_device(settings.device)
    except ValueError as exc:
        raise AuthorError(Diagnostic("error", str(exc), key_path=("build", "device"),
                                     code="device", hint="use --device cpu")) from None


def to_tensor(image: Image.Image, long_side: int | None = None) -> torch.Tensor:
    """PIL RGB -> float [3,H,W] in [0,1], downscaled so its long side is at most `long_side`."""
    if long_side is not None and max(image.size) > long_side:
        scale = long_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.uint8).copy()
    return torch.from_numpy(array).permute(2, 0, 1).float().div(255)


def to_png(tensor: torch.Tensor) -> bytes:
    """[3,H,W] in [0,1] -> PNG bytes (deterministic encoder settings)."""
    array = tensor.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _load(project: Project, relative: str, long_side: int) -> torch.Tensor:
    return to_tensor(load_image(project.path(relative)), long_side)


def _load_at(project: Project, relative: str, size: tuple[int, int]) -> torch.Tensor:
    """The art resized to exactly `size` (width, height): a panel at its print size."""
    image = load_image(project.path(relative))
    if image.size != tuple(size):
        image = image.resize(tuple(size), Image.Resampling.LANCZOS)
    return to_tensor(image)


class PrintArt(Sequence[torch.Tensor]):
    """The panels' art at their print sizes, each read from its file when asked for."""

    def __init__(self, project: Project, sizes: list[tuple[int, int]]) -> None:
        self.project, self.sizes = project, sizes
        self.files = [panel.art for _, _, panel in project.comic.panels()]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:  # type: ignore[override]
        return _load_at(self.project, self.files[index], self.sizes[index])


class PanelArt(Sequence[torch.Tensor]):
    """The panels' art as tensors, each read from its file when it is asked for.

    The style stage reads a panel a few times (training sources, rendering, the summary)
    but never holds a long comic's panels at output resolution all at once.
    """

    def __init__(self, project: Project, files: list[str], long_side: int) -> None:
        self.project, self.files, self.long_side = project, files, long_side

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:  # type: ignore[override]
        return _load(self.project, self.files[index], self.long_side)


class TrainingData(NamedTuple):
    """A comic's panels, element references, p̂ [E, N] and per-panel regions as tensors."""

    panels: Sequence[torch.Tensor]
    references: dict[str, list[torch.Tensor]]
    targets: torch.Tensor
    regions: list[dict[str, tuple[float, ...]]]


def training_data(project: Project, long_side: int, lazy: bool = False) -> TrainingData:
    """The comic's training inputs, images at `long_side`; `lazy` reads panels on demand."""
    comic = project.comic
    files = [panel.art for _, _, panel in comic.panels()]
    panels = PanelArt(project, files, long_side) if lazy else \
        [_load(project, art, long_side) for art in files]
    references = {name: [_load(project, r, long_side) for r in element.references]
                  for name, element in comic.elements.items()}
    matrix = target_matrix(comic)
    targets = torch.tensor(matrix.values, dtype=torch.float32).reshape(len(matrix.elements),
                                                                       len(panels))
    regions = [{k: tuple(v) for k, v in panel.regions.items()} for _, _, panel in comic.panels()]
    return TrainingData(panels, references, targets, regions)


def classify_side(preset: Preset) -> int:
    """Long side (px) of the panels and references the classify stage trains on."""
    return max(preset.size * 2, 256)


def run_classify(project: Project, settings: BuildSettings, say: Log) -> tuple[dict[str, bytes], dict]:
    """Train one head per element; returns the bank as safetensors plus accuracy figures and
    the regions found for present elements the manifest does not place."""
    device = start_torch(settings)
    preset = settings.preset
    backbone = load_backbone(device)
    panels, references, targets, regions = training_data(project, classify_side(preset))
    say(f"classify: training {len(references)} element classifier(s) on {device.type}")
    # Where each present element without a manifest region is, from the raw art (its
    # colours before training, else its trained head): the heads train on those crops and
    # the style stage's classifier and identity terms look at them.
    bank, found = train_and_locate(backbone, references, panels, targets, regions, preset,
                                   seed=settings.seed, device=device, scenes=scenes(project))
    labels = [panel_label(p, j) for p, j, _ in project.comic.panels()]
    bank.found_regions = {label: {k: tuple(round(v, 4) for v in box) for k, box in boxes.items()}
                          for label, boxes in zip(labels, found, strict=True) if boxes}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "classifiers.safetensors"
        bank.save(path)
        data = path.read_bytes()
    accuracy = {k: (None if v != v else round(v, 4)) for k, v in bank.accuracy.items()}
    regions_json = {label: {k: list(box) for k, box in boxes.items()}
                    for label, boxes in bank.found_regions.items()}
    return {"classifiers.safetensors": data}, {"accuracy": accuracy, "weak": bank.weak,
                                               "regions": regions_json}


def load_bank(cache: Cache, entry: Entry, backbone: Backbone) -> ClassifierBank:
    """The classify stage's bank from the cache, on `backbone`."""
    return ClassifierBank.load(cache.blob_file(entry.outputs["classifiers.safetensors"]), backbone)


def panel_texts(project: Project) -> list[str]:
    """t_j: the global direction followed by the panel's own."""
    comic = project.comic
    return [", ".join(t for t in (comic.comic.direction, panel.direction) if t.strip())
            for _, _, panel in comic.panels()]


def _style_conds(project: Project) -> torch.Tensor:
    from comicc.ml.multistyle import style_vector

    comic = project.comic
    vectors = []
    for p, j, panel in comic.panels():
        spec = panel.style if panel.style is not None else comic.comic.style
        where = ("page", p, "panel", j, "style") if panel.style is not None else ("comic", "style")
        try:
            vectors.append(style_vector(spec if spec is not None else DEFAULT_STYLE))
        except ValueError as exc:
            raise AuthorError(project.locate(Diagnostic("error", str(exc), key_path=where,
                                                        code="style"))) from None
    return torch.stack(vectors)


def as_style_mix(weights: torch.Tensor) -> torch.Tensor:
    """Rows of 26 style weights as mixes: non-negative and summing to 1, like named mixes.

    The clamp at 0 passes gradients straight through, so a style at weight 0 can still be
    mixed in while the conditions learn; a row with no positive weight becomes uniform.
    """
    clamped = weights + (weights.clamp(min=0) - weights).detach()
    total = clamped.sum(dim=-1, keepdim=True)
    return torch.where(total > MIX_EPS, clamped / total.clamp(min=MIX_EPS),
                       torch.full_like(clamped, 1 / clamped.shape[-1]))


class StyleMixNet(MultiStyleNet):
    """The 26-style network whose per-panel style weights are always a valid mix.

    Learnt conditions are free parameters; the network sees them through `as_style_mix`,
    so fine-tuning can move a panel towards other styles but never off the simplex.
    """

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:
        return super().forward(x, as_style_mix(style_weights))


def _one_hot_directions(texts: list[str]) -> torch.Tensor:
    distinct = sorted(set(texts))
    conds = torch.zeros(len(texts), max(len(distinct), 1))
    for row, text in enumerate(texts):
        conds[row, distinct.index(text)] = 1.0
    return conds


class StyleNetwork(NamedTuple):
    """The network to fine-tune, its per-panel conditions, whether they learn, and its name."""

    net: torch.nn.Module
    conds: torch.Tensor
    learn_conds: bool
    name: str


def style_network(project: Project, settings: BuildSettings, device: torch.device,
                  texts: list[str]) -> StyleNetwork:
    """The settings' style network (pretrained 26-style or U-Net) with its conditions.

    The U-Net's condition ends with the panel's strength, so it learns each panel's look
    at the strength the author set; the pretrained network's condition is its style mix.
    """
    preset = settings.preset
    if settings.stylenet == "pretrained":
        from comicc.ml.multistyle import load_multistyle26

        net = StyleMixNet()
        net.load_state_dict(load_multistyle26().state_dict())
        return StyleNetwork(net.to(device), _style_conds(project), preset.learn_conds,
                            "multistyle26")
    from comicc.ml.stylenet import UNetStyleNet

    if settings.backend == "clip":
        from comicc.ml.clip import direction_embeddings

        conds = direction_embeddings(_clip(settings, project, device), texts).float().cpu()
    else:
        conds = _one_hot_directions(texts)
    strengths = torch.tensor([[s.strength] for s in panel_strengths(project.comic)])
    conds = torch.cat([conds, strengths], dim=1)
    net = UNetStyleNet(width=preset.unet_width, cond_dim=conds.shape[1]).to(device)
    return StyleNetwork(net, conds, False, f"unet-w{preset.unet_width}")


_CLIP: dict[str, Any] = {}


def _clip(settings: BuildSettings, project: Project, device: torch.device):
    key = f"{settings.clip_model}/{settings.clip_pretrained}/{settings.clip_checkpoint}/{device}"
    if key not in _CLIP:
        from comicc.ml.clip import ClipUnavailable, load_clip

        checkpoint = project.path(settings.clip_checkpoint) if settings.clip_checkpoint else None
        try:
            _CLIP[key] = load_clip(settings.clip_model, settings.clip_pretrained, checkpoint, device)
        except (ClipUnavailable, ValueError) as exc:
            where = ("build", "clip_checkpoint" if checkpoint else "clip_pretrained")
            raise AuthorError(project.locate(Diagnostic("error", str(exc), key_path=where,
                                                        code="clip"))) from None
    return _CLIP[key]


def _own_look(project: Project, settings: BuildSettings) -> bool:
    """Whether the pretrained network's named styles, not the style image, set the look.

    A `style` the author names (in [comic] or any panel) is the look they asked for; the
    style image is the target only when no style is named or the network is the U-Net.
    """
    comic = project.comic
    return settings.stylenet == "pretrained" and (
        comic.comic.style is not None or any(p.style is not None for _, _, p in comic.panels()))


def style_objective(project: Project, settings: BuildSettings, device: torch.device,
                    net: torch.nn.Module, panels: Sequence[torch.Tensor], conds: torch.Tensor,
                    texts: list[str], backbone: Backbone) -> StyleObjective:
    """S_j of the Comic Book Loss: the CLIP directional loss, or the Gram loss against the
    style image or the pretrained network's own rendering of each panel's style."""
    from comicc.ml.backbone import resize

    preset = settings.preset
    from comicc.ml.losses import GramObjective

    comic = project.comic
    if settings.backend == "clip":
        from comicc.ml.clip import ClipObjective

        return ClipObjective(_clip(settings, project, device), backbone, [SOURCE_TEXT] * len(texts),
                             texts, n_crops=preset.crops, crop_size=preset.crop_size,
                             patch_threshold=preset.patch_threshold,
                             weights={"patch": preset.patch_weight, "dir": preset.direction_weight,
                                      "content": preset.content_weight, "tv": preset.tv_weight})
    weights = dict(style_weight=preset.style_weight, content_weight=preset.content_weight,
                   tv_weight=preset.tv_weight)
    if comic.comic.style_image and not _own_look(project, settings):
        style = _load(project, comic.comic.style_image, preset.size * 2).to(device)
        return GramObjective(backbone, style, style_size=preset.size, **weights)
    # The target look of each panel is the pretrained network's own rendering of its style.
    with torch.no_grad():
        targets = [net(resize(p.unsqueeze(0).to(device), (preset.size, preset.size)),
                       conds[i:i + 1].to(device))[0].cpu() for i, p in enumerate(panels)]
    return GramObjective(backbone, panel_styles=targets, **weights)


def _warm_start(cache: Cache, inputs: Inputs, net: torch.nn.Module, conds: torch.Tensor):
    """The last build's network, conditions and optimizer when they fit this one, and the
    panels to focus on (those whose inputs changed; all of them when a shared input did)."""
    previous = cache.latest("style", {key.label: inputs[key] for key in WARM_START_KEYS})
    if previous is None or "net.safetensors" not in previous.outputs:
        return None, [], None
    from safetensors.torch import load as load_tensors

    state = load_tensors(cache.get_blob(previous.outputs["net.safetensors"]))
    saved = load_tensors(cache.get_blob(previous.outputs["conds.safetensors"]))["conds"]
    if saved.shape != conds.shape or set(state) != set(net.state_dict()):
        return None, [], None
    optimizer = torch.load(io.BytesIO(cache.get_blob(previous.outputs["optimizer.pt"])),
                           weights_only=True)
    return (WarmStart(net_state=state, conds=saved, optimizer_state=optimizer),
            changed_panels(inputs, previous.inputs), previous)


def changed_panels(inputs: Inputs, before: dict[str, str]) -> list[str]:
    """The panels a warm start focuses on: those with an input that differs from `before`
    (the previous build's inputs, by label), or every panel when a shared input differs."""
    differs = [key for key, value in inputs.items() if before.get(key.label) != value]
    edited = {key.panel for key in differs if key.panel is not None}
    # New classifiers follow from edited panels; with no panel edited they come from a
    # reference drawing, and that (like the global direction) affects every panel.
    shared = [key for key in differs if key.panel is None
              and not (key == CLASSIFIERS and edited)]
    if shared:
        return sorted({key.panel for key in inputs if key.panel is not None})
    return sorted(edited)


def render_options(settings: BuildSettings, preset: Preset) -> dict[str, Any]:
    """How the fine-tuned network is run for print (`iter_rendered`'s and `print_render`'s
    work_size, detail).

    The pretrained network styles each panel at the geometry it was fine-tuned on (its
    strokes have a fixed size in pixels, so at print resolution it would draw a different
    picture from the one the Comic Book Loss optimised) and `print_render` brings that to
    print size; the U-Net, which starts from the identity and keeps the art's own pixels,
    runs at print resolution.
    """
    if settings.stylenet == "pretrained":
        return {"work_size": preset.size, "detail": settings.detail}
    return {}


def _render(net: torch.nn.Module, panels: Sequence[torch.Tensor], conds: torch.Tensor,
            device: torch.device, labels: list[str], changed: list[str] | None,
            previous: Entry | None, cache: Cache, options: dict[str, Any],
            strengths: Sequence[PanelStrength],
            places: Sequence[Sequence[Place]]) -> Iterator[tuple[torch.Tensor, bytes]]:
    """Render every panel at its print size (`panels` are the art at that size), its kept
    colours (`places`) and its strength, or after a warm start only the changed ones, one at
    a time; yields each panel and its PNG.

    Untouched panels keep the previous build's pixels (and PNG bytes), so an edit to one
    panel never shifts the look of the others (the fine-tuned network moves only a little,
    but it does move).
    """
    for i, label in enumerate(labels):
        if changed is None or previous is None or label in changed:
            art = panels[i]
            image = blend_panel(render_print(net, art, conds[i:i + 1], device, options), art,
                                strengths[i], places[i])
            yield image, to_png(image)
        else:
            data = cache.get_blob(previous.outputs[f"panel-{label}.png"])
            yield to_tensor(Image.open(io.BytesIO(data)).convert("RGB")), data


def render_print(net: torch.nn.Module, art: torch.Tensor, cond: torch.Tensor, device: torch.device,
                 options: dict[str, Any]) -> torch.Tensor:
    """One panel at the size of `art` [3,H,W]: the pretrained network through
    `print_render` (styled at its training size, guided up by the art), the U-Net at
    print resolution itself."""
    if "work_size" in options:
        return print_render(net, art, cond if cond.shape[1] else None, options["work_size"],
                            options["detail"], device)
    return render_panels(net, [art], cond, max(art.shape[1:]), device)[0]


def _progress(total: int, quiet: bool):
    """A progress callback: a rich bar on a terminal, nothing otherwise."""
    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        return None, None
    return style_progress(total)


class LossColumn(ProgressColumn):
    """The loss figures: the one column that gives way, cut short with an ellipsis."""

    def __init__(self) -> None:
        # The only wrapable column, so rich narrows it alone when the line is too long.
        super().__init__(table_column=Column(no_wrap=False, overflow="ellipsis", min_width=1))

    def render(self, task: Task) -> Text:
        return Text(task.fields["losses"], no_wrap=True, overflow="ellipsis")


def style_progress(total: int, console: Console | None = None,
                   clock: Callable[[], float] | None = None
                   ) -> tuple[Progress, Callable[[StepLog], None]]:
    """The style stage's rich bar and the callback that feeds it each logged step.

    The bar, the step count and the time left keep their widths; only the loss figures
    give way on a narrow terminal, as every term is also charted in the report.
    `console` and `clock` are rich's, for tests.
    """
    fixed = Column(no_wrap=True)
    bar = Progress(TextColumn("style", table_column=fixed),
                   BarColumn(bar_width=30, table_column=fixed),
                   TextColumn("{task.completed}/{task.total}", table_column=fixed),
                   TimeRemainingColumn(table_column=fixed), LossColumn(),
                   console=console, transient=True, **({"get_time": clock} if clock else {}))
    task = bar.add_task("style", total=total, losses="")

    def update(log: StepLog) -> None:
        terms = " ".join(f"{k} {v:.3g}" for k, v in log.terms.items())
        bar.update(task, completed=log.step + 1, losses=f"loss {log.total:.3g} {terms}")

    return bar, update


@dataclass
class StyleProblem:
    """One comic's style fine-tuning, set up alike by the build's style stage, the other
    ranks of a distributed build (`serve_style`) and the benchmarks."""

    settings: BuildSettings
    device: torch.device
    bank: ClassifierBank
    data: TrainingData
    texts: list[str]
    network: StyleNetwork
    objective: StyleObjective
    strengths: list[PanelStrength]


def style_problem(project: Project, settings: BuildSettings,
                  classifiers: Callable[[Backbone], ClassifierBank]) -> StyleProblem:
    """Seed torch, then build the network, its conditions and the objective for `project`.

    classifiers: loads the trained bank onto the backbone it is given.
    """
    device = start_torch(settings)
    backbone = load_backbone(device)
    bank = classifiers(backbone)
    data = training_data(project, settings.preset.long_side, lazy=True)
    data = data._replace(regions=with_found_regions(project, data.regions, bank.found_regions))
    texts = panel_texts(project)
    network = style_network(project, settings, device, texts)
    objective = style_objective(project, settings, device, network.net, data.panels,
                                network.conds, texts, backbone)
    return StyleProblem(settings, device, bank, data, texts, network, objective,
                        panel_strengths(project.comic))


def fit_style(problem: StyleProblem, steps: int, init: WarmStart | None = None,
              focus: Sequence[int] = (), progress: Callable[[StepLog], None] | None = None,
              distributed: bool = False) -> StyleResult:
    """Run the Comic Book Loss on the problem's network: `fit_comic` with the settings'
    preset and seed."""
    p, data = problem, problem.data
    return fit_comic(p.network.net, data.panels, p.network.conds, p.objective, p.bank,
                     data.targets, data.regions, preset=p.settings.preset, steps=steps,
                     seed=p.settings.seed, device=p.device, learn_conds=p.network.learn_conds,
                     init=init, progress=progress, distributed=distributed, focus=focus,
                     **loss_options(p.strengths, p.settings.preset))


def loss_options(strengths: list[PanelStrength], preset: Preset) -> dict[str, Any]:
    """`fit_comic`'s strengths, keeps and palettes for panels of these `strengths`: the
    Comic Book Loss reads each panel as it will print."""
    return {"strengths": _strength_maps(strengths, preset), "keeps": _keeps(strengths),
            "palettes": _palettes(strengths)}


def _palettes(strengths: list[PanelStrength]) -> list[tuple[str, ...]] | None:
    """Each panel's elements whose own colours it keeps, or None when no panel keeps any."""
    kept = [s.colours_kept for s in strengths]
    return kept if any(kept) else None


def palette_places(strengths: Sequence[PanelStrength],
                   regions: Sequence[Mapping[str, tuple[float, ...]]],
                   models: Mapping[str, torch.Tensor]) -> list[list[Place]]:
    """Per panel, where its kept elements' own colours are (`comicc.ml.palette`): their
    regions (the manifest's, else found) and the classify stage's colour models."""
    return [places(s.colours_kept, panel_regions, models)
            for s, panel_regions in zip(strengths, regions, strict=True)]


def _keeps(strengths: list[PanelStrength]) -> list[Keep] | None:
    """Each panel's `keep` for the Comic Book Loss, or None when no panel keeps anything."""
    keeps = [s.keep for s in strengths]
    return keeps if any(k != "none" for k in keeps) else None


def _strength_maps(strengths: list[PanelStrength], preset: Preset) -> torch.Tensor | None:
    """The Comic Book Loss's strength maps, or None when every panel is at full strength."""
    if all(s.full for s in strengths):
        return None
    return training_maps(strengths, preset.size)


def run_style(project: Project, settings: BuildSettings, cache: Cache, classify: Entry,
              inputs: Inputs, say: Log,
              group: BuildGroup | None = None) -> tuple[dict[str, bytes], dict]:
    """The style stage: fine-tune the style network over all panels with the Comic Book
    Loss (warm-started from the last build when one fits), then render every panel.

    group: rank 0 of a distributed build; the other ranks, in `serve_style`, receive the
    classifiers and warm start from here and train on their shares of the panels.
    """
    problem = style_problem(project, settings, lambda backbone: load_bank(cache, classify,
                                                                          backbone))
    notes = _gram_note(project, settings, problem.texts) + _palette_notes(problem)
    init, changed, previous = _warm_start(cache, inputs, problem.network.net,
                                          problem.network.conds)
    preset = settings.preset
    steps = preset.steps if init is None else preset.warm_steps()
    labels = [panel_label(p, j) for p, j, _ in project.comic.panels()]
    # A warm start puts the edited panels in every step: they are what the steps are for.
    focus = tuple(labels.index(c) for c in changed) if init is not None else ()
    if init is not None:
        notes.append(f"style: warm start from the last build ({steps} steps; changed panels: "
                     f"{', '.join(changed) or 'none'})")
    say(f"style: {problem.network.name} with the {settings.backend} backend, {steps} steps at "
        f"{preset.size}px on {problem.device.type}")
    if group is not None:
        panels = len(problem.data.panels)
        _check_shares(panels, group.launch.world_size)
        say(f"style: {panels} panels shared by {group.launch.world_size} processes")
        group.send(StyleJob(cache.get_blob(classify.outputs["classifiers.safetensors"]), init,
                            steps, focus))
    bar, update = _progress(steps, settings.run.quiet)
    if bar is not None:
        bar.start()
    try:
        result = fit_style(problem, steps, init, focus, update, distributed=group is not None)
    finally:
        if bar is not None:
            bar.stop()
    rerender = changed if previous is not None else None
    rendered = _rendered_panels(project, problem, result, labels, rerender, previous, cache)
    summary = _style_summary(problem, labels, rendered.small, result, steps, init is not None,
                             changed)
    return _style_outputs(rendered.pngs, result, summary), {
        "sizes": rendered.sizes, "model": problem.network.name, "notes": notes}


def _palette_notes(problem: StyleProblem) -> list[str]:
    """Elements whose own colours the manifest keeps but the build cannot tell apart: no
    colour model (`classifiers.colour_models`)."""
    wanted = dict.fromkeys(e for s in problem.strengths for e in s.colours_kept)
    missing = [e for e in wanted if e not in problem.bank.colour_models]
    if not missing:
        return []
    return [f"note: element_colours: the own colours of {', '.join(missing)} are restyled: "
            "keeping them needs a reference drawn on a plain background or a smooth sky, and "
            "other elements or panels without the element to tell its colours from"]


def _gram_note(project: Project, settings: BuildSettings, texts: list[str]) -> list[str]:
    if settings.backend == "gram" and any(t for t in texts):
        source = "named styles" if _own_look(project, settings) else "style image"
        return [f"note: the gram backend takes its look from the {source}; text "
                "directions cannot steer it and are used only to tell panels apart"]
    return []


def _small(image: torch.Tensor, size: int) -> torch.Tensor:
    from comicc.ml.backbone import resize

    return resize(image.unsqueeze(0), (size, size))[0]


class RenderedPanels(NamedTuple):
    """The styled panels: PNGs by output name, sizes [w, h], and as the report's classifier
    figures see them (`_summary_panel`)."""

    pngs: dict[str, bytes]
    sizes: list[list[int]]
    small: list[torch.Tensor]


def _rendered_panels(project: Project, problem: StyleProblem, result: StyleResult,
                     labels: list[str], changed: list[str] | None, previous: Entry | None,
                     cache: Cache) -> RenderedPanels:
    """Render every panel at its print size (after a warm start only the changed ones), one
    at a time."""
    net = problem.network.net
    # Learnt style rows are kept as the mixes the network saw (the same pixels, valid weights).
    result.conds = as_style_mix(result.conds) if isinstance(net, StyleMixNet) else result.conds
    preset = problem.settings.preset
    pngs: dict[str, bytes] = {}
    sizes: list[list[int]] = []
    small_styled = []
    # Each panel is encoded as it is rendered: only one is held at output resolution.
    rendered = _render(net, PrintArt(project, panel_print_sizes(project)), result.conds,
                       problem.device, labels, changed, previous, cache,
                       render_options(problem.settings, preset), problem.strengths,
                       palette_places(problem.strengths, problem.data.regions,
                                      problem.bank.colour_models))
    for label, (image, png) in zip(labels, rendered, strict=True):
        pngs[f"panel-{label}.png"] = png
        sizes.append([image.shape[2], image.shape[1]])
        small_styled.append(_summary_panel(image, preset))
    return RenderedPanels(pngs, sizes, small_styled)


def _summary_panel(image: torch.Tensor, preset: Preset) -> torch.Tensor:
    """A panel [3,H,W] as the report's classifier figures read it: square at the classify
    stage's side, the detail the heads learned from (the style loop's training size halves
    it: the meadow's far-off fox, 39 x 18 px there, is 32 x 9 at 192 px, where its head
    read 0.52 on the art and 0.41 on a styled panel that prints it plainly, against 0.85
    and 0.65 at the classify side), as bytes: a long comic's panels are all held until the
    summary."""
    small = _small(image.float(), classify_side(preset))
    return (small.clamp(0, 1) * 255).round().to(torch.uint8)


@torch.no_grad()
def _probabilities(bank: ClassifierBank, images: list[torch.Tensor],
                   regions: list[dict[str, tuple[float, ...]]], device: torch.device) -> torch.Tensor:
    """The bank's p [E, N] for `_summary_panel` panels, SUMMARY_BATCH panels per pass: the
    backbone's activations then follow the batch, not the length of the comic."""
    parts = [bank.probabilities(torch.stack(images[start:start + SUMMARY_BATCH]).to(device)
                                .float() / 255, regions[start:start + SUMMARY_BATCH]).cpu()
             for start in range(0, len(images), SUMMARY_BATCH)]
    return torch.cat(parts, dim=1)


def _style_summary(problem: StyleProblem, labels: list[str], small_styled: list[torch.Tensor],
                   result: StyleResult, steps: int, warm: bool,
                   changed: list[str]) -> dict[str, Any]:
    """What the report shows of the style stage: p̂ against the classifiers, the losses."""
    data, device, preset = problem.data, problem.device, problem.settings.preset
    raw_p = _probabilities(problem.bank, [_summary_panel(x, preset) for x in data.panels],
                           data.regions, device)
    styled_p = _probabilities(problem.bank, small_styled, data.regions, device)
    return {
        "elements": problem.bank.element_ids,
        "panels": labels,
        "targets": data.targets.tolist(),
        "raw_probabilities": raw_p.tolist(),
        "styled_probabilities": styled_p.tolist(),
        "agreement_raw": matrix_agreement(raw_p, data.targets),
        "agreement_styled": matrix_agreement(styled_p, data.targets),
        "history": [{"step": h.step, "total": h.total, "seconds": h.seconds, **h.terms}
                    for h in result.history],
        "seconds_per_step": result.seconds_per_step,
        "steps": steps,
        "warm_start": warm,
        "changed_panels": changed,
        "model": problem.network.name,
        "backend": problem.settings.backend,
        "device": device.type,
        "directions": problem.texts,
        "strengths": [s.to_json() for s in problem.strengths],
    }


def _style_outputs(blobs: dict[str, bytes], result: StyleResult,
                   summary: dict[str, Any]) -> dict[str, bytes]:
    """The panels plus what the next build warm-starts from, and the summary, as bytes."""
    from safetensors.torch import save as save_tensors

    blobs["net.safetensors"] = save_tensors({k: v.detach().cpu().contiguous()
                                             for k, v in result.net_state.items()})
    blobs["conds.safetensors"] = save_tensors({"conds": result.conds.detach().cpu().contiguous()})
    buffer = io.BytesIO()
    torch.save(result.optimizer_state, buffer)
    blobs["optimizer.pt"] = buffer.getvalue()
    blobs["summary.json"] = json.dumps(summary, indent=1).encode()
    return blobs


def join_group(settings: BuildSettings, launch: Launch) -> BuildGroup:
    """Join this torchrun launch's process group on the build's device (gloo or NCCL)."""
    return BuildGroup(launch, start_torch(settings))


def serve_style(project: Project, settings: BuildSettings, group: BuildGroup) -> None:
    """Ranks > 0 of a distributed build: when rank 0 runs the style stage, train with it.

    The network, conditions and objective are built here as on rank 0 (same code, same
    seed; DDP also copies rank 0's weights); the classifiers and the warm start are rank
    0's. Nothing is rendered or written here.
    """
    job = group.receive()
    if job is None:
        return

    def classifiers(backbone: Backbone) -> ClassifierBank:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "classifiers.safetensors"
            path.write_bytes(job.classifiers)
            return ClassifierBank.load(path, backbone)

    problem = style_problem(project, settings, classifiers)
    fit_style(problem, job.steps, job.init, job.focus, distributed=True)


def _check_shares(panels: int, processes: int) -> None:
    if panels < processes:
        raise AuthorError(Diagnostic(
            "error", f"{processes} processes cannot share {panels} panel(s): each trains on "
            "at least one", code="distributed",
            hint=f"start torchrun with --nproc-per-node {panels} or fewer"))
