"""Print-resolution art: is every panel at its frame's DPI, and are its lines crisp?

    python benchmarks/bench_print.py [SAMPLE ...] [--presets draft,standard,final]
                                     [--candidates] [--out DIR]

For each sample (default: both) and preset, every panel is rendered as the build renders it
(`render_print`: the pretrained network at the preset's training size, brought to print
size by the fast guided filter) and compared with the concept art at the same size:
  print      the rendered size against the frame's requirement at `[comic] dpi`
             (capped by the art's own size, which the build warns about)
  seconds    time of the print-rendering step for the panel (network pass included)
  sharp      mean gradient magnitude of the print over the art's, whole panel
  sharp-el   the same inside the panel's element regions
  edges      correlation of the two gradient-magnitude images (the artist's lines kept)
  drift      mean absolute difference, at the training size, between the print shrunk
             back and the network's own output there (what the Comic Book Loss optimised)

--candidates also measures, per preset and sample, the other ways to reach print size
(bicubic upscaling with the manifest's `detail`, the previous build; joint bilateral
upsampling; the guided filter at other radii/eps; the network run at print resolution
itself) and prints their means. The network is the pretrained one with each panel's style
mix, not fine-tuned: the upsampling is what is measured, and it does not depend on the
fine-tuning. Targets (issue 18): every panel at its frame's DPI unless the art is smaller,
sharpness >= 0.8.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from comicc.engine.request import BuildRequest
from comicc.engine.settings import resolve_settings
from comicc.engine.stages import panel_print_sizes
from comicc.engine.style_stage import PrintArt, panel_texts, start_torch, style_network
from comicc.manifest.images import upright_size
from comicc.manifest.load import load_project
from comicc.manifest.matrix import panel_label
from comicc.ml.backbone import resize
from comicc.ml.print_render import guided_fit, to_print
from comicc.page.art import cover_crop, effective_dpi
from comicc.page.layout import layout_frames

SAMPLES = [Path("samples/lighthouse"), Path("samples/photos")]
SHARPNESS_TARGET = 0.8
BUILD = "build: guided + residual + detail where not carried"

# An upsampler: (styled at work size, art at work size, art at print size) -> print.
Upsampler = Callable[[Tensor, Tensor, Tensor], Tensor]


@dataclass
class PanelFigures:
    label: str
    art: tuple[int, int]
    size: tuple[int, int]
    required: tuple[int, int]
    seconds: float
    sharp: float
    sharp_elements: float | None
    edges: float
    drift: float


def gradient(x: Tensor) -> Tensor:
    """Sobel gradient magnitude of the luminance of [1,3,H,W]; [H,W]."""
    luma = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    padded = F.pad(luma, (1, 1, 1, 1), mode="replicate")
    gx, gy = F.conv2d(padded, kx), F.conv2d(padded, kx.transpose(2, 3))
    return (gx * gx + gy * gy).sqrt()[0, 0]


def sharpness(printed: Tensor, art: Tensor, mask: Tensor | None = None) -> float:
    """Mean gradient magnitude of the print over the art's (inside `mask` when given)."""
    gp, ga = gradient(printed), gradient(art)
    if mask is not None:
        gp, ga = gp[mask], ga[mask]
    return float(gp.mean() / ga.mean().clamp(min=1e-8))


def edge_correlation(printed: Tensor, art: Tensor) -> float:
    """Pearson correlation of the two gradient-magnitude images."""
    gp, ga = gradient(printed).flatten(), gradient(art).flatten()
    gp, ga = gp - gp.mean(), ga - ga.mean()
    return float((gp * ga).sum() / (gp.norm() * ga.norm()).clamp(min=1e-8))


def region_mask(regions: dict[str, list[float]], size: tuple[int, int]) -> Tensor | None:
    """The union of the element boxes as a [H,W] mask; None for a panel with none."""
    if not regions:
        return None
    w, h = size
    mask = torch.zeros(h, w, dtype=torch.bool)
    for x, y, rw, rh in regions.values():
        mask[round(y * h):round((y + rh) * h), round(x * w):round((x + rw) * w)] = True
    return mask


def required_sizes(project) -> list[tuple[int, int]]:
    """Per panel, the art's size scaled to its frame's need at the comic's dpi (uncapped)."""
    comic, sizes = project.comic, []
    for p, page in enumerate(comic.page):
        for panel, frame in zip(page.panel, layout_frames(comic, p, project.root), strict=True):
            art = upright_size(project.path(panel.art))
            focus = (panel.focus[0], panel.focus[1]) if panel.focus else None
            scale = comic.comic.dpi / effective_dpi(cover_crop(art, frame.rect, focus), frame.rect)
            sizes.append((round(art[0] * scale), round(art[1] * scale)))
    return sizes


def bicubic_detail(detail: float) -> Upsampler:
    """The previous build: bicubic upscaling plus `detail` of the art's own fine detail."""
    def up(styled: Tensor, small: Tensor, art: Tensor) -> Tensor:
        size = art.shape[-2:]
        out = F.interpolate(styled, size=size, mode="bicubic", align_corners=False)
        coarse = F.interpolate(small, size=size, mode="bicubic", align_corners=False)
        return (out + detail * (art - coarse)).clamp(0, 1)
    return up


def guided_upsample(styled: Tensor, small: Tensor, art: Tensor, radius: int = 1,
                    eps: float = 1e-4) -> Tensor:
    """The fast guided filter alone: the low-resolution fit applied to the art."""
    slope, offset = guided_fit(styled, small, radius, eps)
    size = art.shape[-2:]
    a, b = (F.interpolate(t, size=size, mode="bilinear", align_corners=False)
            for t in (slope, offset))
    return (a * art + b).clamp(0, 1)


def guided(radius: int, eps: float) -> Upsampler:
    return lambda styled, small, art: guided_upsample(styled, small, art, radius, eps)


def joint_bilateral(sigma_range: float = 0.1) -> Upsampler:
    """Joint bilateral upsampling (Kopf et al. 2007) over the 3x3 low-resolution neighbours
    of each print pixel, weighted by distance and by colour difference in the art."""
    def up(styled: Tensor, small: Tensor, art: Tensor) -> Tensor:
        h, w = art.shape[-2:]
        lo_h, lo_w = small.shape[-2:]
        ys = ((torch.arange(h) + 0.5) * lo_h / h - 0.5).clamp(0, lo_h - 1)
        xs = ((torch.arange(w) + 0.5) * lo_w / w - 0.5).clamp(0, lo_w - 1)
        total = torch.zeros_like(art)
        weight = torch.zeros(1, 1, h, w)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                qy = (ys.round() + dy).clamp(0, lo_h - 1).long()
                qx = (xs.round() + dx).clamp(0, lo_w - 1).long()
                spatial = torch.exp(-((qy - ys)[:, None] ** 2 + (qx - xs)[None, :] ** 2) / 2)
                g = small[:, :, qy][:, :, :, qx]
                s = styled[:, :, qy][:, :, :, qx]
                rng = torch.exp(-((g - art) ** 2).sum(1, keepdim=True) / (2 * sigma_range ** 2))
                wgt = spatial[None, None] * rng
                total += wgt * s
                weight += wgt
        return (total / weight.clamp(min=1e-8)).clamp(0, 1)
    return up


def previous_build(long_side: int, detail: float) -> Upsampler:
    """The previous build: bicubic + detail at long side `long_side` (the preset's old output
    size, art permitting), then stretched to the frame as the printer does."""
    def up(styled: Tensor, small: Tensor, art: Tensor) -> Tensor:
        h, w = art.shape[-2:]
        scale = min(1.0, long_side / max(h, w))
        low = resize(art, (round(h * scale), round(w * scale)))
        out = bicubic_detail(detail)(styled, small, low)
        return F.interpolate(out, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    return up


def guided_detail(detail: float) -> Upsampler:
    """The guided filter, plus `detail` of the art's detail layer where it added none."""
    def up(styled: Tensor, small: Tensor, art: Tensor) -> Tensor:
        coarse = F.interpolate(small, size=art.shape[-2:], mode="bicubic", align_corners=False)
        return (guided_upsample(styled, small, art) + detail * (art - coarse)).clamp(0, 1)
    return up


def guided_residual(detail: float) -> Upsampler:
    """The guided filter, plus what its fit missed at the training size (the network's own
    strokes) upscaled, plus `detail` of the art's detail layer everywhere."""
    def up(styled: Tensor, small: Tensor, art: Tensor) -> Tensor:
        size = art.shape[-2:]
        slope, offset = guided_fit(styled, small)
        missed = F.interpolate(styled - (slope * small + offset), size=size, mode="bicubic",
                               align_corners=False)
        coarse = F.interpolate(small, size=size, mode="bicubic", align_corners=False)
        return (guided_upsample(styled, small, art) + missed
                + detail * (art - coarse)).clamp(0, 1)
    return up


def build_print(detail: float) -> Upsampler:
    """What the build prints (`comicc.ml.print_render.to_print`)."""
    return lambda styled, small, art: to_print(styled, small, art, detail)


def candidates(detail: float, long_side: int) -> dict[str, Upsampler]:
    return {
        BUILD: build_print(detail),
        f"guided + residual + detail {detail}": guided_residual(detail),
        "guided + residual": guided_residual(0.0),
        "before: 768/1600/3072 px, stretched": previous_build(long_side, detail),
        "bicubic": bicubic_detail(0.0),
        f"bicubic + detail {detail}": bicubic_detail(detail),
        f"guided r1 + detail {detail}": guided_detail(detail),
        "joint bilateral 3x3": joint_bilateral(),
        "guided r1 eps1e-4": guided(1, 1e-4),
        "guided r2 eps1e-4": guided(2, 1e-4),
    }


def measure(up: Upsampler | None, net, art: Tensor, cond: Tensor, work: int,
            mask: Tensor | None) -> tuple[float, float, float | None, float, float]:
    """(seconds, sharp, sharp in elements, edge correlation, drift) of one panel;
    `up` None runs the network at print resolution itself."""
    with torch.inference_mode():
        full = art[None]
        started = time.perf_counter()
        small = resize(full, (work, work))
        styled = net(small, cond).clamp(0, 1)
        printed = net(full, cond).clamp(0, 1) if up is None else up(styled, small, full)
        seconds = time.perf_counter() - started
        drift = float((resize(printed, (work, work)) - styled).abs().mean())
    return (seconds, sharpness(printed, full), None if mask is None else
            sharpness(printed, full, mask), edge_correlation(printed, full), drift)


def bench_sample(root: Path, preset_name: str, with_candidates: bool,
                 full_res: bool) -> dict:
    project = load_project(root)
    settings = resolve_settings(project, BuildRequest(backend="gram", preset=preset_name))
    device = start_torch(settings)
    preset = settings.preset
    net, conds, _, _ = style_network(project, settings, device, panel_texts(project))
    net.eval()
    sizes = panel_print_sizes(project)
    required = required_sizes(project)
    arts = PrintArt(project, sizes)
    own = [upright_size(project.path(p.art)) for _, _, p in project.comic.panels()]
    ups: dict[str, Upsampler | None] = {BUILD: build_print(settings.detail)}
    if with_candidates:
        ups = dict(candidates(settings.detail, preset.long_side))
        if full_res:
            ups["network at print size"] = None
    table: dict[str, list[tuple]] = {name: [] for name in ups}
    panels: list[PanelFigures] = []
    for i, (p, j, panel) in enumerate(project.comic.panels()):
        art = arts[i]
        mask = region_mask(panel.regions, sizes[i])
        for name, up in ups.items():
            figures = measure(up, net, art, conds[i:i + 1], preset.size, mask)
            table[name].append(figures)
            if name == BUILD:
                panels.append(PanelFigures(panel_label(p, j), own[i], sizes[i],
                                           required[i], *figures))
    return {"panels": panels, "table": table}


def mean(values: list[float | None]) -> float:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else float("nan")


def report(root: Path, preset: str, result: dict) -> dict:
    panels: list[PanelFigures] = result["panels"]
    at_dpi = sum(p.size[0] >= p.required[0] * 0.99 for p in panels)
    # The rest print at the art's own size, which the build warns about.
    capped = sum(p.size == p.art and p.size[0] < p.required[0] * 0.99 for p in panels)
    print(f"\n{root.name} / {preset}: {at_dpi}/{len(panels)} panels at the frame's DPI, "
          f"{capped} at the art's own smaller size")
    print(f"  {'panel':6} {'print':>10} {'needs':>10} {'s':>6} {'sharp':>6} {'sharp-el':>8} "
          f"{'edges':>6} {'drift':>6}")
    for f in panels:
        el = f"{f.sharp_elements:.2f}" if f.sharp_elements is not None else "-"
        print(f"  {f.label:6} {f.size[0]:>4}x{f.size[1]:<5} {f.required[0]:>4}x{f.required[1]:<5} "
              f"{f.seconds:6.2f} {f.sharp:6.2f} {el:>8} {f.edges:6.2f} {f.drift:6.3f}")
    summary = {}
    if len(result["table"]) > 1:
        print(f"  {'candidate':44} {'s/panel':>7} {'sharp':>6} {'sharp-el':>8} {'edges':>6} "
              f"{'drift':>6}")
    for name, rows in result["table"].items():
        s, sharp, sharp_el, edges, drift = (mean([r[k] for r in rows]) for k in range(5))
        summary[name] = {"seconds": s, "sharp": sharp, "sharp_elements": sharp_el,
                         "edges": edges, "drift": drift}
        if len(result["table"]) > 1:
            print(f"  {name:44} {s:7.2f} {sharp:6.2f} {sharp_el:8.2f} {edges:6.2f} {drift:6.3f}")
    return {"panels": [vars(p) for p in panels], "candidates": summary, "at_dpi": at_dpi,
            "capped": capped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="*", type=Path, default=SAMPLES)
    parser.add_argument("--presets", default="draft,standard,final")
    parser.add_argument("--candidates", action="store_true",
                        help="also measure the other upsampling methods")
    parser.add_argument("--full-res", action="store_true",
                        help="with --candidates, also run the network at print size (slow)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    torch.manual_seed(0)
    figures = {}
    for root in args.samples:
        for preset in args.presets.split(","):
            result = bench_sample(root, preset, args.candidates, args.full_res)
            figures[f"{root.name}/{preset}"] = report(root, preset, result)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_print.json").write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
