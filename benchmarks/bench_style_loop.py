"""Seconds per step and peak memory of the Comic Book Loss loop on a synthetic comic.

Compares, for the same network, style objective and step count:
  joint       `fit_comic` over all panels (mini-batches), with the classifier term
  joint λ=0   the same loop without the classifier term
  per panel   a plain CLIPstyler-style loop: each panel optimised alone, a fresh network
              each, for the same number of steps
and prints panels/second side by side. Each phase runs in its own process so its peak
memory (RSS on CPU, max allocated on CUDA) is its own.

    python benchmarks/bench_style_loop.py --panels 8 --preset draft --device cpu
    python benchmarks/bench_style_loop.py --panels 8 --preset draft --end-to-end
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from comicc.ml.backbone import load_backbone  # noqa: E402
from comicc.ml.classifiers import train_for_preset  # noqa: E402
from comicc.ml.device import resolve_device  # noqa: E402
from comicc.ml.losses import GramObjective  # noqa: E402
from comicc.ml.presets import PRESETS, Preset  # noqa: E402
from comicc.ml.stylenet import UNetStyleNet  # noqa: E402
from comicc.ml.train import fit_comic, render_panels  # noqa: E402

COLOURS = [(0.85, 0.15, 0.1), (0.1, 0.25, 0.85), (0.1, 0.6, 0.2), (0.9, 0.7, 0.1), (0.5, 0.1, 0.6)]
SOURCE_SIZE = 512


def synthetic_comic(panels: int, elements: int, seed: int = 0):
    """Panels of coloured shapes on textured grounds; element i is shape i in colour i."""
    gen = torch.Generator().manual_seed(seed)
    s = SOURCE_SIZE
    yy, xx = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    targets = (torch.rand(elements, panels, generator=gen) < 0.5).float()
    targets[torch.arange(elements), torch.arange(elements) % panels] = 1.0  # no all-zero row

    def draw(present: list[int]) -> torch.Tensor:
        ground = 0.6 + 0.35 * torch.rand(3, 1, 1, generator=gen)
        image = ground * (0.9 + 0.1 * torch.sin(xx / 9.0 + yy / 23.0))
        for i in present:
            cx, cy = (torch.rand(2, generator=gen) * 0.5 + 0.25) * s
            r = s * 0.14
            kind = i % 3
            if kind == 0:
                mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
            elif kind == 1:
                mask = ((xx - cx).abs() <= r) & ((yy - cy).abs() <= r)
            else:
                mask = ((yy - cy) >= -r) & ((yy - cy) <= r) & ((xx - cx).abs() <= (yy - cy + r) / 2)
            image[:, mask] = torch.tensor(COLOURS[i % len(COLOURS)]).view(3, 1)
        return image.clamp(0, 1)

    art = [draw([i for i in range(elements) if targets[i, j] > 0]) for j in range(panels)]
    references = {f"e{i}": [draw([i])] for i in range(elements)}
    style = torch.stack(
        [
            ((xx + yy) // 24 % 2).float(),
            0.5 * ((xx - yy) // 40 % 2).float(),
            torch.full((s, s), 0.25),
        ]
    )
    return art, references, targets, style


def build_objective(args, preset: Preset, backbone, style, n_panels: int, device):
    if args.backend == "clip":
        from comicc.ml.clip import ClipObjective, load_clip

        clip = load_clip(args.clip_arch, device=device, random_init=True)
        return ClipObjective(
            clip,
            backbone,
            ["a rough drawing"],
            ["ink wash"] * n_panels,
            n_crops=preset.crops,
            crop_size=preset.crop_size,
            patch_threshold=preset.patch_threshold,
            weights={
                "patch": preset.patch_weight,
                "dir": preset.direction_weight,
                "content": preset.content_weight,
                "tv": preset.tv_weight,
            },
        )
    return GramObjective(
        backbone,
        style.to(device),
        style_weight=preset.style_weight,
        content_weight=preset.content_weight,
        tv_weight=preset.tv_weight,
        style_size=preset.size,
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_phase(args) -> dict:
    """One phase in this process; returns its timings and peak memory."""
    device = resolve_device(args.device)
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # pay torch's lazy optimizer imports now
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = PRESETS[args.preset].with_overrides(steps=args.steps)
    art, references, targets, style = synthetic_comic(args.panels, args.elements)
    backbone = load_backbone(device)
    conds = torch.eye(args.panels)[:, : args.directions]  # a few distinct directions, one-hot
    conds[args.directions :, 0] = 1.0
    regions = [{} for _ in art]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    result: dict = {"phase": args.phase}

    bank = None
    if args.phase in ("joint", "end-to-end"):
        started = time.perf_counter()
        bank = train_for_preset(
            backbone, references, art, targets, regions, preset, seed=0, device=device
        )
        sync(device)
        result["classifier_seconds"] = time.perf_counter() - started
        result["classifier_accuracy"] = bank.accuracy

    def new_net() -> UNetStyleNet:
        return UNetStyleNet(width=preset.unet_width, cond_dim=conds.shape[1]).to(device)

    torch.manual_seed(0)
    started = time.perf_counter()
    step_seconds: list[float] = []
    if args.phase == "per-panel":
        for j in range(args.panels):
            objective = build_objective(args, preset, backbone, style, 1, device)
            fitted = fit_comic(
                new_net(),
                [art[j]],
                conds[j : j + 1],
                objective,
                None,
                targets[:, j : j + 1],
                [{}],
                preset=preset.with_overrides(lam=0.0),
                steps=preset.steps,
                seed=j,
                device=device,
            )
            step_seconds += [h.seconds for h in fitted.history[1:]]
    else:
        objective = build_objective(args, preset, backbone, style, args.panels, device)
        lam = 0.0 if args.phase == "joint-plain" else preset.lam
        net = new_net()
        fitted = fit_comic(
            net,
            art,
            conds,
            objective,
            bank,
            targets,
            regions,
            preset=preset.with_overrides(lam=lam),
            steps=preset.steps,
            seed=0,
            device=device,
        )
        step_seconds += [h.seconds for h in fitted.history[1:]]
        if args.phase == "end-to-end":
            render_started = time.perf_counter()
            render_panels(net, art, fitted.conds, preset.long_side, device)
            sync(device)
            result["render_seconds"] = time.perf_counter() - render_started
        result["last_terms"] = fitted.history[-1].terms
    sync(device)
    seconds = time.perf_counter() - started
    # Steady-state seconds per step: the first step of each fit pays one-off set-up costs.
    result.update(
        seconds=seconds,
        seconds_per_step=sum(step_seconds) / max(1, len(step_seconds)),
        panels_per_second=args.panels / seconds,
    )
    if device.type == "cuda":
        result["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
        result["memory"] = "max allocated"
    else:
        result["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["memory"] = "peak RSS"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panels", type=int, default=8)
    parser.add_argument("--elements", type=int, default=3)
    parser.add_argument("--directions", type=int, default=2, help="distinct per-panel conditions")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="draft")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--backend", choices=["gram", "clip"], default="gram")
    parser.add_argument("--clip-arch", default="ViT-B-32", help="open_clip arch (random weights)")
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="time classifiers + the preset's full fit + rendering instead",
    )
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        print(json.dumps(run_phase(args)))
        return

    phases = ["end-to-end"] if args.end_to_end else ["joint", "joint-plain", "per-panel"]
    preset = PRESETS[args.preset].with_overrides(steps=args.steps)
    device = resolve_device(args.device)
    print(
        f"comicc style loop: {args.panels} panels, {args.elements} elements, preset "
        f"{preset.name} ({preset.size}px, {preset.steps} steps, batch {preset.panels_per_step}, "
        f"unet width {preset.unet_width}), backend {args.backend}, device {device}, "
        f"threads {args.threads or torch.get_num_threads()}"
    )
    results = []
    for phase in phases:
        command = [sys.executable, __file__, *sys.argv[1:], "--phase", phase]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))

    print(f"{'phase':<24}{'s/step':>9}{'total s':>10}{'panels/s':>10}{'peak MiB':>10}")
    labels = {
        "joint": f"joint (λ={preset.lam:g})",
        "joint-plain": "joint (λ=0)",
        "per-panel": "one panel at a time",
        "end-to-end": "draft end-to-end (fit)",
    }
    for r in results:
        print(
            f"{labels[r['phase']]:<24}{r['seconds_per_step']:>9.3f}{r['seconds']:>10.1f}"
            f"{r['panels_per_second']:>10.3f}{r['peak_mib']:>10.0f}  ({r['memory']})"
        )
    for r in results:
        if "classifier_seconds" in r:
            accuracy = ", ".join(f"{k} {v:.2f}" for k, v in r["classifier_accuracy"].items())
            print(
                f"classifiers ({r['phase']}): {r['classifier_seconds']:.1f} s; held-out {accuracy}"
            )
        if "render_seconds" in r:
            total = r["classifier_seconds"] + r["seconds"] + r["render_seconds"]
            print(
                f"render at {preset.long_side}px: {r['render_seconds']:.1f} s; "
                f"classifiers + fit + render: {total:.1f} s"
            )


if __name__ == "__main__":
    main()
