"""Does the Comic Book Loss keep the characters? The pretrained network, four ways.

    python benchmarks/bench_pretrained.py samples/photos [--style SPEC] [--steps N] [--lam L]
    python benchmarks/bench_pretrained.py samples/photos --all-styles
    python benchmarks/bench_pretrained.py samples/photos --stylenet unet

Comparison (default): for one comic, prints per element and panel the classifier probability
p_ij for
  raw        the author's concept art
  untuned    the pretrained 26-style network as it comes (each panel's named style)
  lambda=0   fine-tuned with the style/content/TV loss only
  lambda>0   fine-tuned with the full Comic Book Loss
then each variant's figures, twice: on the panels as the build renders them (the pretrained
network at the training geometry, upscaled to long side `long_side` with the manifest's
`detail`; shrunk to the training size for the classifiers) and on the network's output at
the training size (`size` square, what the loop optimised):
  agreement  mean BCE of the classifiers against p̂ (lower is better)
  judge      the same with a second set of heads (another seed and view size) that the
             fine-tuning never saw: a gain the trained heads show and the judge does not is
             the network fooling those heads
  style      Gram style loss against the untuned network's rendering of each panel at the
             same scale (lower is closer to the named style; 0 for the untuned network)
With --stylenet unet the U-Net is fine-tuned against the same per-panel targets (the
pretrained network's rendering of the named style), so both networks chase one look.
Writes contact sheets of each variant (rendered and at the training size) and the figures
as JSON to --out.

Survey (--all-styles): renders every one of the 26 styles, untuned, on the comic's panels and
ranks them by how much they lower the classifier probability of the elements that are present.

SPEC is a style name, an index 0-25, or a mix "mosaic:0.5,brick-weave:0.5"; it replaces every
panel's style. Hyper-parameter flags override the preset's values for this run only.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from comicc.engine.request import BuildRequest
from comicc.engine.settings import resolve_settings
from comicc.engine.style_stage import (
    as_style_mix,
    classify_side,
    panel_texts,
    render_options,
    start_torch,
    style_network,
    style_objective,
    training_data,
)
from comicc.manifest.load import Project, load_project
from comicc.manifest.matrix import panel_label
from comicc.manifest.styles import NUM_STYLES, STYLE_NAMES
from comicc.ml.backbone import load_backbone, resize
from comicc.ml.classifiers import ClassifierBank, train_for_preset
from comicc.ml.losses import GramObjective
from comicc.ml.presets import Preset
from comicc.ml.train import fit_comic, matrix_agreement, render_panels

# Above this one-minute load average per core, one thread beats fighting for both cores.
BUSY_LOAD_PER_CORE = 0.75
# The judge heads differ from the trained ones in seed and view size.
JUDGE_SEED_OFFSET = 1000
JUDGE_SIZE = 160


@dataclass
class Bench:
    """Everything the variants share: the comic, its tensors and the trained classifiers."""

    project: Project
    settings: Any
    preset: Preset
    device: torch.device
    backbone: Any
    panels: list[Tensor]
    targets: Tensor
    regions: list[dict]
    bank: ClassifierBank
    judge: ClassifierBank
    labels: list[str]


@dataclass
class Scale:
    """A variant's figures at one scale."""

    probs: Tensor  # [E, N]
    agreement: float
    judge: float
    style: float


@dataclass
class Figures:
    """A variant's figures on the rendered panels and at the training size."""

    render: Scale
    train: Scale

    def present_absent(self, targets: Tensor) -> tuple[float, float]:
        """Mean rendered p over the pairs where p̂ = 1 and where p̂ = 0."""
        p = self.render.probs
        return p[targets > 0.5].mean().item(), p[targets < 0.5].mean().item()


def parse_style(spec: str) -> str | int | dict[str, float]:
    """A --style value: a name, an index, or "name:weight,name:weight"."""
    if ":" not in spec:
        return int(spec) if spec.isdigit() else spec
    mix = {}
    for part in spec.split(","):
        name, weight = part.split(":")
        mix[name.strip()] = float(weight)
    return mix


def with_style(project: Project, spec: str | int | dict[str, float]) -> Project:
    """The project with `spec` as [comic] style and no per-panel styles."""
    comic = project.comic
    pages = [page.model_copy(update={"panel": [p.model_copy(update={"style": None})
                                               for p in page.panel]}) for page in comic.page]
    meta = comic.comic.model_copy(update={"style": spec})
    return replace(project, comic=comic.model_copy(update={"comic": meta, "page": pages}))


def choose_threads(requested: int | None) -> str:
    """Set torch's thread count (one on a busy machine) and say why."""
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    threads = requested or (1 if load > BUSY_LOAD_PER_CORE * cores else cores)
    torch.set_num_threads(threads)
    return f"{threads} thread(s), load average {load:.2f} on {cores} cores"


def prepare(args: argparse.Namespace) -> Bench:
    """Load the comic and train its element classifiers, as the build's classify stage does."""
    project = load_project(args.comic)
    if args.style is not None:
        project = with_style(project, parse_style(args.style))
    settings = resolve_settings(project, BuildRequest(backend="gram", stylenet=args.stylenet,
                                                      preset=args.preset, steps=args.steps))
    device = start_torch(settings)
    torch.set_num_threads(args.threads_set)  # the build's own thread choice is not the bench's
    preset = settings.preset.with_overrides(
        lam=args.lam, lr=args.lr, style_weight=args.style_weight,
        content_weight=args.content_weight, tv_weight=args.tv_weight, size=args.size,
        long_side=args.long_side, learn_conds=False if args.fixed_conds else None)
    settings = replace(settings, preset=preset)
    backbone = load_backbone(device)
    panels, references, targets, regions = training_data(project, classify_side(preset))
    started = time.perf_counter()
    banks = [train_for_preset(backbone, references, panels, targets, regions, preset,
                              seed=seed, device=device, size=size)
             for seed, size in ((settings.seed, None),
                                (settings.seed + JUDGE_SEED_OFFSET, JUDGE_SIZE))]
    print(f"classifiers (trained heads and judge): {time.perf_counter() - started:.1f}s, "
          "held-out accuracy " + ", ".join(f"{k} {v:.2f}" for k, v in banks[0].accuracy.items()))
    full, _, _, _ = training_data(project, preset.long_side)
    labels = [panel_label(p, j) for p, j, _ in project.comic.panels()]
    return Bench(project, settings, preset, device, backbone, full, targets, regions, *banks,
                 labels)


def render(bench: Bench, net: Any, conds: Tensor) -> list[Tensor]:
    """The panels as the build renders them (for the pretrained network: at the training
    geometry, upscaled to the long side, with the manifest's share of the art's detail)."""
    return render_panels(net, bench.panels, conds, bench.preset.long_side, bench.device,
                         **render_options(bench.settings, bench.preset))


def small(bench: Bench, images: list[Tensor]) -> Tensor:
    """Panels at the training resolution, as the loop and the build summary see them."""
    size = (bench.preset.size, bench.preset.size)
    return torch.cat([resize(x[None].float(), size) for x in images]).to(bench.device)


def style_targets(bench: Bench, images: Tensor) -> GramObjective:
    """The Gram style loss against `images` [N,3,s,s], one target per panel."""
    p = bench.preset
    return GramObjective(bench.backbone, panel_styles=list(images), style_weight=p.style_weight,
                         content_weight=p.content_weight, tv_weight=p.tv_weight)


def at_training_size(bench: Bench, net: Any, conds: Tensor) -> Tensor:
    """The network's outputs on the training-resolution panels (what the loop optimised)."""
    net.eval()
    with torch.no_grad():
        x = small(bench, bench.panels)
        out = net(x, conds.to(bench.device) if conds.shape[1] else None).clamp(0, 1)
    net.train()
    return out


def measure(bench: Bench, looks: dict[str, GramObjective] | None, rendered: list[Tensor],
            trained: Tensor) -> Figures:
    """Agreement (trained heads and judge) and style loss of rendered and training-size output."""
    scales = {}
    with torch.no_grad():
        source = small(bench, bench.panels)
        index = torch.arange(len(rendered), device=bench.device)
        for name, images in (("render", small(bench, rendered)), ("train", trained)):
            images = images.to(bench.device)
            probs = bench.bank.probabilities(images, bench.regions).cpu()
            judged = bench.judge.probabilities(images, bench.regions).cpu()
            style = (float(looks[name](images, source, index)["style"]) if looks
                     else float("nan"))
            scales[name] = Scale(probs, matrix_agreement(probs, bench.targets),
                                 matrix_agreement(judged, bench.targets), style)
    return Figures(**scales)


def sheet(panels: list[Tensor] | Tensor, height: int = 200) -> Image.Image:
    """The panels side by side at a common height."""
    images = []
    for p in panels:
        array = p.clamp(0, 1).mul(255).byte().permute(1, 2, 0).cpu().numpy()
        image = Image.fromarray(array)
        images.append(image.resize((round(image.width * height / image.height), height),
                                   Image.Resampling.LANCZOS))
    out = Image.new("RGB", (sum(i.width for i in images) + 4 * (len(images) - 1), height), "white")
    x = 0
    for image in images:
        out.paste(image, (x, 0))
        x += image.width + 4
    return out


def survey(bench: Bench, out: Path) -> None:
    """Render each of the 26 styles untuned; rank them by what they do to present elements."""
    from comicc.ml.multistyle import load_multistyle26, style_vector

    net = load_multistyle26().to(bench.device).eval()
    raw = measure(bench, None, bench.panels, small(bench, bench.panels))
    raw_present, raw_absent = raw.present_absent(bench.targets)
    rows = []
    for index in range(NUM_STYLES):
        conds = style_vector(index).expand(len(bench.panels), -1)
        rendered = render(bench, net, conds)
        figures = measure(bench, None, rendered, at_training_size(bench, net, conds))
        rows.append((STYLE_NAMES[index], index, *figures.present_absent(bench.targets), figures))
        sheet(rendered, height=120).save(out / f"style-{index:02d}-{STYLE_NAMES[index]}.jpg",
                                         quality=80)
    rows.sort(key=lambda r: r[2])
    print(f"\n{bench.project.manifest_path}: untuned styles, rendered at long side "
          f"{bench.preset.long_side} (at the training size {bench.preset.size} in brackets)")
    print(f"raw art: p(present) {raw_present:.2f}, p(absent) {raw_absent:.2f}, "
          f"agreement {raw.render.agreement:.3f} ({raw.train.agreement:.3f})")
    print("rank  style              idx  p(present)  p(absent)  agreement (train)")
    for rank, (name, index, present, absent, f) in enumerate(rows, 1):
        print(f"{rank:>4}  {name:<18} {index:>3}  {present:10.2f}  {absent:9.2f}  "
              f"{f.render.agreement:9.3f} ({f.train.agreement:.3f})")
    (out / "survey.json").write_text(json.dumps([
        {"style": name, "index": index, "present": present, "absent": absent,
         "agreement": f.render.agreement, "agreement_train": f.train.agreement}
        for name, index, present, absent, f in rows], indent=1))


def by_side(bench: Bench, net: Any, conds: Tensor, sides: list[int]) -> dict[int, tuple]:
    """Agreement (trained heads, judge) of the panels rendered at each long side."""
    figures = {}
    for side in sides:
        images = small(bench, render_panels(net, bench.panels, conds, side, bench.device))  # full res
        with torch.no_grad():
            figures[side] = tuple(
                matrix_agreement(bank.probabilities(images, bench.regions).cpu(), bench.targets)
                for bank in (bench.bank, bench.judge))
    return figures


def compare(bench: Bench, out: Path, sides: list[int]) -> None:
    """Raw, untuned, fine-tuned at lambda = 0 and at lambda > 0, side by side."""
    preset = bench.preset
    texts = panel_texts(bench.project)
    pretrained_settings = replace(bench.settings, stylenet="pretrained")
    look_net, look_conds, _, _ = style_network(bench.project, pretrained_settings, bench.device,
                                               texts)
    net, conds, learn_conds, model = style_network(bench.project, bench.settings, bench.device,
                                                   texts)
    # One target look for both networks: the pretrained network's rendering of the style.
    objective = style_objective(bench.project, pretrained_settings, bench.device, look_net,
                           bench.panels, look_conds, texts, bench.backbone)
    untuned = render(bench, look_net, look_conds)
    untuned_small = at_training_size(bench, look_net, look_conds)
    looks = {"render": style_targets(bench, small(bench, untuned)),
             "train": style_targets(bench, untuned_small)}

    figures: dict[str, Figures] = {}
    renders: dict[str, list[Tensor]] = {"raw": bench.panels}
    trained: dict[str, Tensor] = {"raw": small(bench, bench.panels)}
    seconds: dict[str, float] = {}
    figures["raw"] = measure(bench, looks, bench.panels, trained["raw"])
    renders["untuned"], trained["untuned"] = untuned, untuned_small
    figures["untuned"] = measure(bench, looks, untuned, untuned_small)
    scaled = {"untuned": by_side(bench, look_net, look_conds, sides)}
    pristine = copy.deepcopy(net.state_dict())
    for name, weight in (("lambda=0", 0.0), (f"lambda={preset.lam:g}", preset.lam)):
        net.load_state_dict(pristine)
        started = time.perf_counter()
        result = fit_comic(net, bench.panels, conds, objective, bench.bank, bench.targets,
                           bench.regions, preset=preset.with_overrides(lam=weight), steps=preset.steps,
                           seed=bench.settings.seed, device=bench.device, learn_conds=learn_conds)
        seconds[name] = time.perf_counter() - started
        final = as_style_mix(result.conds) if learn_conds else result.conds
        renders[name] = render(bench, net, final)
        trained[name] = at_training_size(bench, net, final)
        figures[name] = measure(bench, looks, renders[name], trained[name])
        scaled[name] = by_side(bench, net, final, sides)
        torch.save({"net": result.net_state, "conds": final}, out / f"{slug(name)}.pt")
        if learn_conds:
            moved = (final - conds).abs().sum(dim=1).mean().item()
            print(f"{name}: style mixes moved by {moved:.3f} (mean L1 per panel)")

    print(f"\n{bench.project.manifest_path}: {model}, style "
          f"{bench.project.comic.comic.style or 'per manifest'}, preset {preset.name}, "
          f"{preset.steps} steps at {preset.size}px, rendered at long side {preset.long_side}, "
          f"lr {preset.lr:g}, λ {preset.lam:g}, style/content/tv weights "
          f"{preset.style_weight:g}/{preset.content_weight:g}/{preset.tv_weight:g}, "
          f"conds {'learnt' if learn_conds else 'fixed'}")
    for name, s in seconds.items():
        print(f"  {name}: {preset.steps} steps in {s:.1f}s")
    print("\nrendered panels: p per element and panel")
    print("element      panel  p̂  " + "".join(f"{n:>12}" for n in figures))
    for i, element in enumerate(bench.bank.element_ids):
        for j, label in enumerate(bench.labels):
            cells = "".join(f"{f.render.probs[i, j]:12.2f}" for f in figures.values())
            print(f"{element:<12} {label:>5}  {int(bench.targets[i, j])}  {cells}")
    print("\n               rendered panels                                  at the training size")
    print("variant        agreement  judge   style  p(present) p(absent)   agreement  judge   style")
    for name, f in figures.items():
        present, absent = f.present_absent(bench.targets)
        r, t = f.render, f.train
        print(f"{name:<14} {r.agreement:9.3f} {r.judge:6.3f} {r.style:7.1f} {present:11.2f} "
              f"{absent:9.2f}   {t.agreement:9.3f} {t.judge:6.3f} {t.style:7.1f}")
    if sides:
        print("\nagreement (judge) with the network run at full resolution at these long sides (px)")
        print("variant       " + "".join(f"{side:>15}" for side in sides))
        for name, row in scaled.items():
            print(f"{name:<14}" + "".join(f"{a:8.3f} ({j:.3f})" for a, j in row.values()))
    for name in renders:
        sheet(renders[name]).save(out / f"{slug(name)}.jpg", quality=85)
        sheet(trained[name], height=128).save(out / f"{slug(name)}-train.jpg", quality=85)
    (out / "compare.json").write_text(json.dumps({
        "comic": str(bench.project.manifest_path), "model": model,
        "style": bench.project.comic.comic.style, "preset": preset.name, "steps": preset.steps,
        "size": preset.size, "long_side": preset.long_side, "lr": preset.lr, "lam": preset.lam,
        "style_weight": preset.style_weight, "content_weight": preset.content_weight,
        "tv_weight": preset.tv_weight, "learn_conds": learn_conds, "seconds": seconds,
        "by_side": {n: {str(side): list(v) for side, v in row.items()}
                    for n, row in scaled.items()},
        "variants": {n: {scale: {"agreement": s.agreement, "judge": s.judge, "style": s.style,
                                 "probs": s.probs.tolist()}
                         for scale, s in (("render", f.render), ("train", f.train))}
                     for n, f in figures.items()},
    }, indent=1))
    print(f"contact sheets in {out}/")


def slug(name: str) -> str:
    """A file name for a variant: lambda=150 -> lambda150."""
    return name.replace("=", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comic", nargs="?", default="samples/photos")
    parser.add_argument("--all-styles", action="store_true", help="survey the 26 styles, untuned")
    parser.add_argument("--style", help="style for every panel: name, index or a:0.5,b:0.5")
    parser.add_argument("--stylenet", default="pretrained", choices=["pretrained", "unet"])
    parser.add_argument("--preset", default="draft")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--lam", type=float)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--style-weight", type=float)
    parser.add_argument("--content-weight", type=float)
    parser.add_argument("--tv-weight", type=float)
    parser.add_argument("--size", type=int, help="training resolution (px)")
    parser.add_argument("--long-side", type=int, help="rendering resolution (px, long side)")
    parser.add_argument("--fixed-conds", action="store_true", help="do not learn the style mixes")
    parser.add_argument("--sides", default="",
                        help="also run the network at full resolution at these long sides")
    parser.add_argument("--threads", type=int, help="torch threads (default: 1 when busy)")
    parser.add_argument("--out", default="out/bench_pretrained")
    args = parser.parse_args()

    print(choose_threads(args.threads))
    args.threads_set = torch.get_num_threads()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    bench = prepare(args)
    if args.all_styles:
        survey(bench, out)
    else:
        compare(bench, out, [int(side) for side in args.sides.split(",") if side])


if __name__ == "__main__":
    main()
