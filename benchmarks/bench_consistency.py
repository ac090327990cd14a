"""Does the Comic Book Loss keep the characters, to a judge it never trains against?

    python benchmarks/bench_consistency.py samples/meadow samples/lighthouse samples/photos
    python benchmarks/bench_consistency.py samples/meadow --variants untuned,lambda=0,default

For each comic, the pretrained network with the comic's named style (or --style), as:
  untuned        the network as it comes
  lambda=0       fine-tuned with the style/content/TV loss only
  default        fine-tuned with the whole Comic Book Loss as the build runs it (preset λ,
                 identity terms and the manifest's `keep`)
  bce-only       λ > 0 with the classifier BCE alone (no identity terms)
  keep=MODE      the default with [build] keep = MODE for every panel (keep=none: the
                 named style's own light everywhere, night scenes included)
  colours=MODE   the default with [build] element_colours = MODE and no element's own
                 `colours` (restyle: the style's colours, the build before element colours;
                 keep: every element's own colours, settings' too; auto is the default)
  A+B            both, e.g. lambda=0+keep=none
and measures the printed panels (the network at its training geometry, brought to
--long-side, each panel's keep, kept element colours and strength applied, as the build
renders them) with the
independent judge (EfficientNet-Lite2, comicc/ml/judge.py), which no loss term sees:
  identity   cosine of the judge's embeddings of each present element's styled crop and
             its crop of the concept art (mean over present cells)
  retrieval  share of present cells whose styled crop is nearest the element's own
             reference drawings (chance = 1 / number of elements)
  presence   share of cells where the judge's presence heads agree with p̂
  edges      correlation of Sobel edge magnitudes, art vs styled, inside element boxes
  style      similarity of the judge's Gram descriptors to the untuned network's rendering
             of the named style, nothing of the art kept (1 for the untuned network with
             keep = "none"; below 1 for it with the default keep = "auto" where a panel
             is drawn dark)
and beside them the build's own classifiers' agreement (mean BCE against p̂).
Element boxes are the comic's truth.json when it has one (the boxes its make_art.py drew:
not given to the build), else the manifest's regions, else the whole panel.

--seeds 1,2,3 repeats everything (classifiers, regions, fits) with each build seed in place
of the manifest's and prints each figure's mean and spread (max - min) over the seeds, and
each variant's identity, retrieval and style change against lambda=0 seed by seed: a single run's
identity moves by up to 0.03 with the seed, which is the size of the gains being measured.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor
from torchvision.transforms.functional import to_pil_image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pretrained import choose_threads, parse_style, sheet, with_style  # noqa: E402

from comicc.engine.request import BuildRequest  # noqa: E402
from comicc.engine.settings import resolve_settings  # noqa: E402
from comicc.engine.stages import scenes  # noqa: E402
from comicc.engine.style_stage import (  # noqa: E402
    as_style_mix,
    classify_side,
    loss_options,
    palette_places,
    panel_texts,
    render_options,
    render_print,
    start_torch,
    style_network,
    style_objective,
    training_data,
)
from comicc.manifest.load import Project, load_project  # noqa: E402
from comicc.manifest.matrix import panel_label  # noqa: E402
from comicc.manifest.strength import panel_strengths  # noqa: E402
from comicc.ml.backbone import load_backbone, resize  # noqa: E402
from comicc.ml.classifiers import train_and_locate  # noqa: E402
from comicc.ml.judge import edge_correlation, judge_comic, load_judge, style_similarity  # noqa: E402
from comicc.ml.strength import blend_panel  # noqa: E402
from comicc.ml.train import fit_comic, matrix_agreement  # noqa: E402

DEFAULT_VARIANTS = ("untuned,lambda=0,default,bce-only,keep=none,keep=colours,keep=lighting,"
                    "colours=restyle,colours=keep")


@dataclass
class Variant:
    """One way of restyling the comic: fine-tuned or not, its λ, identity weights and keep."""

    name: str
    tuned: bool = True
    lam: float | None = None  # None: the preset's
    identity: bool = True  # the preset's colour/edge weights, or 0
    keep: str | None = None  # None: the manifest's
    colours: str | None = None  # [build] element_colours; None: the manifest's


def parse_variant(name: str) -> Variant:
    """A variant's name; `A+B` combines them, e.g. `lambda=0+keep=none`."""
    if "+" in name:
        parts = [parse_variant(part) for part in name.split("+")]
        merged = Variant(name)
        for dial in ("lam", "keep", "colours"):
            if sum(getattr(part, dial) is not None for part in parts) > 1:
                raise SystemExit(f"variant {name!r} sets {dial} twice")
        for part in parts:
            merged.tuned = merged.tuned and part.tuned
            merged.identity = merged.identity and part.identity
            merged.lam = part.lam if part.lam is not None else merged.lam
            merged.keep = part.keep or merged.keep
            merged.colours = part.colours or merged.colours
        return merged
    if name == "untuned":
        return Variant(name, tuned=False)
    if name == "default":
        return Variant(name)
    if name == "bce-only":
        return Variant(name, identity=False)
    if name.startswith("lambda="):
        return Variant(name, lam=float(name.split("=")[1]))
    if name.startswith("keep="):
        return Variant(name, keep=name.split("=")[1])
    if name.startswith("colours="):
        return Variant(name, colours=name.split("=")[1])
    raise SystemExit(f"unknown variant {name!r}")


def with_keep(project: Project, keep: str) -> Project:
    """The project with [build] keep = keep and no per-panel keep."""
    comic = project.comic
    pages = [page.model_copy(update={"panel": [p.model_copy(update={"keep": None})
                                               for p in page.panel]}) for page in comic.page]
    build = comic.build.model_copy(update={"keep": keep})
    return replace(project, comic=comic.model_copy(update={"build": build, "page": pages}))


def with_element_colours(project: Project, colours: str) -> Project:
    """The project with [build] element_colours = colours and no element's own `colours`."""
    comic = project.comic
    elements = {k: e.model_copy(update={"colours": None}) for k, e in comic.elements.items()}
    build = comic.build.model_copy(update={"element_colours": colours})
    return replace(project, comic=comic.model_copy(update={"build": build, "elements": elements}))


def truth_boxes(project: Project, labels: list[str], regions: list[dict]) -> list[dict]:
    """Per panel, element -> box: truth.json's where the comic has one, else the manifest's."""
    path = project.root / "truth.json"
    if not path.exists():
        return regions
    truth = json.loads(path.read_text())["panels"]
    return [{k: tuple(v) for k, v in truth.get(label, {}).get("boxes", {}).items()}
            or regions[j] for j, label in enumerate(labels)]


def box_iou(a: tuple, b: tuple) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def run_comic(path: str, args: argparse.Namespace, out: Path, seed: int | None = None) -> dict:
    project = load_project(path)
    if args.style:
        project = with_style(project, parse_style(args.style))
    settings = resolve_settings(project, BuildRequest(backend="gram", preset=args.preset,
                                                      steps=args.steps))
    if seed is not None:
        settings = replace(settings, seed=seed)
    device = start_torch(settings)
    torch.set_num_threads(args.threads_set)
    preset = settings.preset.with_overrides(lam=args.lam, colour_weight=args.colour_weight,
                                            edge_weight=args.edge_weight,
                                            identity_weight=args.identity_weight,
                                            structure_weight=args.structure_weight,
                                            background_weight=args.background_weight,
                                            consistency_views=args.views)
    settings = replace(settings, preset=preset)
    backbone = load_backbone(device)
    labels = [panel_label(p, j) for p, j, _ in project.comic.panels()]
    panels_c, references, targets, regions = training_data(project, classify_side(preset))
    # As the build: the manifest's regions, else the boxes found by colour (before the
    # heads train, on those crops) or by the heads' maps.
    bank, found = train_and_locate(backbone, references, panels_c, targets, regions, preset,
                                   seed=settings.seed, device=device, scenes=scenes(project))
    panels, references_full, _, _ = training_data(project, args.long_side)
    boxes = truth_boxes(project, labels, regions)
    regions = [{**extra, **given} for extra, given in zip(found, regions, strict=True)]
    found_iou = [box_iou(box, boxes[j][name]) for j, extra in enumerate(found)
                 for name, box in extra.items() if name in boxes[j]]
    if found_iou:
        print(f"found regions: {len(found_iou)} boxes, IoU with the truth boxes mean "
              f"{sum(found_iou) / len(found_iou):.2f}, min {min(found_iou):.2f}")
    if args.train_regions == "truth":
        regions = boxes  # the boxes as an author would draw them: an upper bound for found ones
    judge = load_judge(device)
    if args.box_colours:
        bank.colour_models = {}  # the colour term over each element's whole box
    texts = panel_texts(project)
    net, conds, learn_conds, model = style_network(project, settings, device, texts)
    objective = style_objective(project, settings, device, net, panels, conds, texts, backbone)
    pristine = copy.deepcopy(net.state_dict())
    options = render_options(settings, preset)
    size = (preset.size, preset.size)
    print(f"\n{path} (seed {settings.seed}): {model}, style {project.comic.comic.style or 'per manifest'}, "
          f"{preset.steps} steps at {preset.size}px, λ {preset.lam:g}, colour/edge "
          f"{preset.colour_weight:g}/{preset.edge_weight:g}, identity {preset.identity_weight:g}, "
          f"structure {preset.structure_weight:g}, "
          f"keep {project.comic.build.keep}; "
          "classifiers' held-out accuracy "
          + ", ".join(f"{k} {v:.2f}" for k, v in bank.accuracy.items()))

    # The named style as the network draws it, nothing of the art kept: style similarity's 1.
    plain = with_element_colours(with_keep(project, "none"), "restyle")
    untuned = printed(net, panels, conds, panel_strengths(plain.comic), device, options)
    rows: dict[str, dict] = {}
    sheets = {"art": sheet(panels, height=160)}
    for variant in [parse_variant(v) for v in args.variants.split(",")]:
        project_v = with_keep(project, variant.keep) if variant.keep else project
        if variant.colours:
            project_v = with_element_colours(project_v, variant.colours)
        strengths = panel_strengths(project_v.comic)
        places = palette_places(strengths, regions, bank.colour_models)
        net.load_state_dict(pristine)
        final, seconds = conds, 0.0
        if variant.tuned:
            p = preset.with_overrides(lam=variant.lam)
            if not variant.identity:
                p = p.with_overrides(colour_weight=0.0, edge_weight=0.0, identity_weight=0.0,
                                     structure_weight=0.0, background_weight=0.0)
            started = time.perf_counter()
            result = fit_comic(net, panels, conds, objective, bank, targets, regions, preset=p,
                               steps=p.steps, seed=settings.seed, device=device,
                               learn_conds=learn_conds, **loss_options(strengths, p))
            seconds = time.perf_counter() - started
            last = result.history[-10:]
            print(f"  {variant.name}: last steps' terms " + ", ".join(
                f"{k} {sum(h.terms[k] for h in last) / len(last):.3g}" for k in last[0].terms))
            final = as_style_mix(result.conds) if learn_conds else result.conds
        rendered = printed(net, panels, final, strengths, device, options, places)
        verdict = judge_comic(judge, panels, rendered, references_full, bank.element_ids,
                              targets, boxes)
        present = [(i, j) for i in range(len(bank.element_ids)) for j in range(len(panels))
                   if targets[i, j] > 0.5]
        edges = sum(edge_correlation(panels[j], rendered[j],
                                     boxes[j].get(bank.element_ids[i]))
                    for i, j in present) / max(1, len(present))
        with torch.no_grad():
            small = torch.cat([resize(x[None], size) for x in rendered]).to(device)
            own = matrix_agreement(bank.probabilities(small, regions).cpu(), targets)
        rows[variant.name] = {
            "identity": verdict.identity, "retrieval": verdict.retrieval,
            "presence": verdict.presence_agreement, "edges": edges,
            "style": style_similarity(judge, rendered, untuned),
            "classifiers": own, "seconds": seconds, "judge": verdict.to_json()}
        sheets[variant.name] = sheet(rendered, height=160)
        if args.panels:
            name = Path(path).name + ("" if seed is None else f"-seed{seed}")
            for label, image in zip(labels, rendered, strict=True):
                to_pil_image(image.clamp(0, 1)).save(
                    out / f"{name}-{variant.name.replace('=', '')}-{label}.png")
        r = rows[variant.name]
        print(f"  {variant.name:<16} identity {r['identity']:.3f}  retrieval {r['retrieval']:.2f}  "
              f"presence {r['presence']:.2f}  edges {r['edges']:.3f}  style {r['style']:.3f}  "
              f"classifiers {own:.3f}  ({seconds:.0f}s)", flush=True)
    name = Path(path).name + ("" if seed is None else f"-seed{seed}")
    for variant_name, image in sheets.items():
        image.save(out / f"{name}-{variant_name.replace('=', '')}.jpg", quality=85)
    return {"comic": path, "seed": settings.seed, "style": str(project.comic.comic.style),
            "preset": preset.name,
            "steps": preset.steps, "lam": preset.lam, "colour_weight": preset.colour_weight,
            "edge_weight": preset.edge_weight, "accuracy": bank.accuracy, "variants": rows}


def printed(net: torch.nn.Module, panels: list[Tensor], conds: Tensor, strengths: list,
            device: torch.device, options: dict, places: list | None = None) -> list[Tensor]:
    """The panels as the build prints them: `render_print`, then each panel's keep, kept
    element colours at `places` and strength (`blend_panel`); `panels` are the art at the
    print size."""
    return [blend_panel(render_print(net, art, conds[j:j + 1], device, options), art,
                        strengths[j], places[j] if places else ()) for j, art in enumerate(panels)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comics", nargs="*",
                        default=["samples/meadow", "samples/lighthouse", "samples/photos"])
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--style", help="style for every panel: name, index or a:0.5,b:0.5")
    parser.add_argument("--preset", default="draft")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--lam", type=float)
    parser.add_argument("--colour-weight", type=float)
    parser.add_argument("--edge-weight", type=float)
    parser.add_argument("--identity-weight", type=float)
    parser.add_argument("--structure-weight", type=float)
    parser.add_argument("--views", type=int, help="random views for the classifier term")
    parser.add_argument("--train-regions", choices=["build", "truth"], default="build",
                        help="regions the loss sees: the build's (manifest, else found by the "
                        "classifiers) or the judge's truth boxes")
    parser.add_argument("--box-colours", action="store_true",
                        help="the colour term over each element's whole box, not its colours")
    parser.add_argument("--background-weight", type=float)
    parser.add_argument("--long-side", type=int, default=768, help="print long side (px)")
    parser.add_argument("--threads", type=int, help="torch threads (default: 1 when busy)")
    parser.add_argument("--seeds", help="build seeds to repeat every run with, e.g. 1,2,3 "
                        "(default: the manifest's seed, once)")
    parser.add_argument("--out", default="out/bench_consistency")
    parser.add_argument("--panels", action="store_true",
                        help="also save every variant's printed panels as PNG, to look at")
    args = parser.parse_args()
    print(choose_threads(args.threads))
    args.threads_set = torch.get_num_threads()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else [None]
    results = [run_comic(path, args, out, seed) for path in args.comics for seed in seeds]
    (out / "consistency.json").write_text(json.dumps(results, indent=1))
    if len(seeds) == 1:
        print_table(results)
    else:
        print_seeds(results)
    print(f"contact sheets and consistency.json in {out}/")


FIGURES = ("identity", "retrieval", "presence", "edges", "style", "classifiers")


def print_table(results: list[dict]) -> None:
    print("\ncomic        variant           identity  retrieval  presence  edges   style  "
          "classifiers")
    for result in results:
        for name, r in result["variants"].items():
            print(f"{Path(result['comic']).name:<12} {name:<16} {r['identity']:9.3f} "
                  f"{r['retrieval']:10.2f} {r['presence']:9.2f} {r['edges']:6.3f} "
                  f"{r['style']:7.3f} {r['classifiers']:11.3f}")


def print_seeds(results: list[dict]) -> None:
    """Per comic and variant, each figure's mean (spread = max - min) over the seeds, and
    the identity, retrieval and style changes against lambda=0, seed by seed."""
    print("\ncomic        variant          seeds " + "".join(f"{f:>16}" for f in FIGURES))
    for comic in dict.fromkeys(r["comic"] for r in results):
        runs = [r for r in results if r["comic"] == comic]
        for name in runs[0]["variants"]:
            cells = []
            for figure in FIGURES:
                values = [r["variants"][name][figure] for r in runs]
                cells.append(f"{sum(values) / len(values):.3f} ({max(values) - min(values):.3f})")
            print(f"{Path(comic).name:<12} {name:<16} {len(runs):5} " + "".join(f"{c:>16}" for c in cells))
        if all("lambda=0" in r["variants"] for r in runs):
            for name in runs[0]["variants"]:
                if name in ("lambda=0", "untuned"):
                    continue
                gains = {f: [r["variants"][name][f] - r["variants"]["lambda=0"][f] for r in runs]
                         for f in ("identity", "retrieval", "style")}
                print(f"  {name} - lambda=0 by seed: " + "; ".join(
                    f"{f} " + " ".join(f"{g:+.3f}" for g in values)
                    + f" (mean {sum(values) / len(values):+.3f})" for f, values in gains.items()))

if __name__ == "__main__":
    main()
