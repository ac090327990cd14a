"""Do the element classifiers recognise the characters, and find where they are?

    python benchmarks/bench_regions.py samples/meadow samples/lighthouse samples/photos --threads 1
    python benchmarks/bench_regions.py samples/meadow --seeds 1,2,3

For each comic, the classify stage as the build runs it (the art at the preset's classify
side, `train_and_locate`: boxes by colour, heads trained on those crops, boxes by the heads
for the rest), asked for every present cell (the manifest's regions withheld). Prints
per element the held-out balanced accuracy and, against the true boxes (truth.json where
the comic has one, else the manifest's regions), the cells where a box was found out of
the present cells with a true box, the mean IoU of the found boxes, and the share of found
boxes whose centre lies inside the true box. Also the classify step's seconds (training
and locating). --seeds: the heads of other seeds than the manifest's (their noise).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_consistency import box_iou, truth_boxes  # noqa: E402
from bench_pretrained import choose_threads  # noqa: E402

from comicc.engine.request import BuildRequest  # noqa: E402
from comicc.engine.settings import resolve_settings  # noqa: E402
from comicc.engine.stages import scenes  # noqa: E402
from comicc.engine.style_stage import classify_side, start_torch, training_data  # noqa: E402
from comicc.manifest.load import load_project  # noqa: E402
from comicc.manifest.matrix import panel_label  # noqa: E402
from comicc.ml.backbone import load_backbone  # noqa: E402
from comicc.ml.classifiers import train_and_locate  # noqa: E402


def centre_inside(found: tuple, truth: tuple) -> bool:
    cx, cy = found[0] + found[2] / 2, found[1] + found[3] / 2
    return truth[0] <= cx <= truth[0] + truth[2] and truth[1] <= cy <= truth[1] + truth[3]


def run_comic(path: str, preset_name: str, seed: int | None = None) -> list[dict]:
    project = load_project(path)
    settings = resolve_settings(project, BuildRequest(backend="gram", preset=preset_name))
    device = start_torch(settings)
    preset = settings.preset
    backbone = load_backbone(device)
    panels, references, targets, regions = training_data(project, classify_side(preset))
    started = time.perf_counter()
    bank, found = train_and_locate(
        backbone,
        references,
        panels,
        targets,
        [{} for _ in panels],
        preset,
        seed=settings.seed if seed is None else seed,
        device=device,
        scenes=scenes(project),
    )
    seconds = time.perf_counter() - started
    labels = [panel_label(p, j) for p, j, _ in project.comic.panels()]
    truth = truth_boxes(project, labels, regions)
    rows = []
    for i, element in enumerate(bank.element_ids):
        cells = [j for j in range(len(panels)) if targets[i, j] > 0.5 and element in truth[j]]
        hits = [(found[j][element], truth[j][element]) for j in cells if element in found[j]]
        ious = [box_iou(f, t) for f, t in hits]
        rows.append(
            {
                "comic": Path(path).name,
                "element": element,
                "accuracy": bank.accuracy[element],
                "weak": element in bank.weak,
                "cells": len(cells),
                "found": len(hits),
                "iou": sum(ious) / len(ious) if ious else float("nan"),
                "inside": sum(centre_inside(f, t) for f, t in hits) / len(hits) if hits else float("nan"),
                "seconds": seconds,
                "seed": settings.seed if seed is None else seed,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comics", nargs="*", default=["samples/meadow", "samples/lighthouse", "samples/photos"])
    parser.add_argument("--preset", default="draft")
    parser.add_argument("--seeds", default="", help="comma-separated seeds (default: the manifest's)")
    parser.add_argument("--threads", type=int, help="torch threads (default: 1 when busy)")
    args = parser.parse_args()
    print(choose_threads(args.threads))
    torch.set_num_threads(torch.get_num_threads())
    seeds = [int(s) for s in args.seeds.split(",") if s] or [None]
    rows = [row for path in args.comics for seed in seeds for row in run_comic(path, args.preset, seed)]
    print("\ncomic        seed  element      accuracy  found/cells  mean IoU  centre in  classify s")
    for r in rows:
        print(
            f"{r['comic']:<12} {r['seed']!s:<5} {r['element']:<12} {r['accuracy']:8.2f}"
            f"{'*' if r['weak'] else ' '}"
            f" {r['found']:>5}/{r['cells']:<5} {r['iou']:9.2f} {r['inside']:10.2f}"
            f" {r['seconds']:10.1f}"
        )
    print("* weak: its head finds no regions (colours still may)")


if __name__ == "__main__":
    main()
