"""Does the Comic Book Loss keep the characters? The pretrained network, four ways.

    python benchmarks/bench_pretrained.py samples/photos [--steps N] [--lam L] [--out DIR]

For one comic, prints per element and panel the classifier probability p_ij for:
  raw        the author's concept art
  untuned    the pretrained 26-style network as it comes (each panel's named style)
  lambda=0   fine-tuned with the style/content/TV loss only
  lambda>0   fine-tuned with the full Comic Book Loss
plus each variant's matrix agreement (mean BCE against p̂, lower is better) and style loss,
and writes a contact sheet of every variant's panels to --out.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from PIL import Image

from comicc.build.pipeline import BuildRequest, resolve_settings
from comicc.build.style_stage import (
    _network,
    _objective,
    _setup,
    _training_data,
    panel_texts,
    preset_for,
)
from comicc.manifest.load import load_project
from comicc.ml.backbone import load_backbone, resize
from comicc.ml.classifiers import train_classifiers
from comicc.ml.train import fit_comic, matrix_agreement, render_panels


def sheet(panels: list[torch.Tensor], height: int = 200) -> Image.Image:
    images = []
    for p in panels:
        array = p.clamp(0, 1).mul(255).byte().permute(1, 2, 0).numpy()
        image = Image.fromarray(array)
        images.append(image.resize((round(image.width * height / image.height), height)))
    out = Image.new("RGB", (sum(i.width for i in images) + 4 * len(images), height), "white")
    x = 0
    for image in images:
        out.paste(image, (x, 0))
        x += image.width + 4
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comic", nargs="?", default="samples/photos")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--lam", type=float, default=None)
    parser.add_argument("--preset", default="draft")
    parser.add_argument("--out", default="out/bench_pretrained")
    args = parser.parse_args()

    project = load_project(args.comic)
    settings = resolve_settings(project, BuildRequest(backend="gram", stylenet="pretrained",
                                                      preset=args.preset, steps=args.steps))
    device = _setup(settings)
    preset = preset_for(settings)
    lam = args.lam if args.lam is not None else preset.lam
    backbone = load_backbone(device)
    panels, references, targets, regions = _training_data(project, preset.long_side)
    started = time.perf_counter()
    bank = train_classifiers(backbone, list(references), references, panels, targets, regions,
                             seed=settings.seed, steps=preset.classifier_steps,
                             size=preset.classifier_size, device=device,
                             views_per_image=preset.classifier_views)
    print(f"classifiers: {time.perf_counter() - started:.1f}s, held-out accuracy "
          + ", ".join(f"{k} {v:.2f}" for k, v in bank.accuracy.items()))
    texts = panel_texts(project)
    net, conds, learn_conds, model = _network(project, settings, preset, device, texts, [])
    pristine = copy.deepcopy(net.state_dict())
    objective = _objective(project, settings, preset, device, net, panels, conds, texts, backbone)

    def small(images: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([resize(x[None], (preset.size, preset.size)) for x in images]).to(device)

    def evaluate(images: list[torch.Tensor]) -> tuple[torch.Tensor, float, float]:
        with torch.no_grad():
            x = small(images)
            probs = bank.probabilities(x, regions).cpu()
            source = small(panels)
            style = float(objective(x, source, torch.arange(len(images), device=device))["style"])
        return probs, matrix_agreement(probs, targets), style

    variants: dict[str, list[torch.Tensor]] = {"raw": panels}
    variants["untuned"] = render_panels(net, panels, conds, preset.long_side, device)
    for name, weight in (("lambda=0", 0.0), (f"lambda={lam:g}", lam)):
        net.load_state_dict(pristine)
        started = time.perf_counter()
        result = fit_comic(net, panels, conds, objective, bank, targets, regions, preset=preset,
                           lam=weight, steps=preset.steps, seed=settings.seed, device=device,
                           learn_conds=learn_conds)
        print(f"{name}: {preset.steps} steps in {time.perf_counter() - started:.1f}s")
        variants[name] = render_panels(net, panels, result.conds, preset.long_side, device)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    matrix = project.comic
    labels = [f"{p + 1}.{j + 1}" for p, j, _ in matrix.panels()]
    results = {name: evaluate(images) for name, images in variants.items()}
    print(f"\n{project.manifest_path} — {model}, {settings.backend} backend, preset {preset.name}, "
          f"{preset.steps} steps, λ = {lam:g}")
    print("element      panel  p̂   " + "  ".join(f"{n:>10}" for n in results))
    for i, element in enumerate(bank.element_ids):
        for j, label in enumerate(labels):
            cells = "  ".join(f"{results[n][0][i, j]:10.2f}" for n in results)
            print(f"{element:<12} {label:>5}  {int(targets[i, j])}   {cells}")
    print("agreement (mean BCE, lower is better): "
          + ", ".join(f"{n} {r[1]:.3f}" for n, r in results.items()))
    print("style loss (lower is closer to the target look): "
          + ", ".join(f"{n} {r[2]:.3f}" for n, r in results.items()))
    for name, images in variants.items():
        sheet(images).save(out / f"{name.replace('=', '')}.png")
    print(f"contact sheets in {out}/")


if __name__ == "__main__":
    main()
