"""Incremental rebuilds on a sample comic: what an edit costs compared with a cold build.

    python benchmarks/bench_incremental.py [samples/lighthouse] [--preset draft] [--steps N]

Copies the comic to a temporary folder and prints, in one run:
  cold build, no-op rebuild (min / median / max of NOOP_RUNS), one balloon edited, one
  panel's art edited, one panel's direction edited — whole-process wall time, which stages
  ran (--explain), the style stage's time against the cold one, and how much the untouched
  panels' pixels moved.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
NOOP_RUNS = 10


@dataclass(frozen=True)
class BuildProcess:
    """One finished `comicc build` process: wall and CPU seconds, peak RSS, its output."""

    seconds: float
    cpu_seconds: float  # user + system, all threads
    peak_mib: float  # the process's own peak RSS (wait4's ru_maxrss)
    stdout: str
    stderr: str


def build_process(project: Path, extra: list[str], report: bool = False) -> BuildProcess:
    """Run one whole `comicc build --explain` process on `project` and measure it.

    Peak RSS and CPU time come from wait4 on this one child (getrusage's RUSAGE_CHILDREN
    would give the largest of every child so far); a build that fails ends the benchmark.
    """
    command = [sys.executable, "-m", "comicc", "build", str(project), "--explain", "-q",
               *([] if report else ["--no-report"]), "-o", str(project / "out.pdf"), *extra]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = BuildProcess(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                            out.read(), err.read())
    if child.returncode != 0:
        sys.exit(f"build failed:\n{done.stderr}")
    return done


def run_build(project: Path, extra: list[str]) -> tuple[float, str]:
    """One whole `comicc build --explain` process: (wall seconds, its stdout)."""
    done = build_process(project, extra)
    return done.seconds, done.stdout


def stage_seconds(explain: str, stage: str) -> float:
    match = re.search(rf"^{stage}\s+ran in ([0-9.]+)s", explain, re.M)
    return float(match.group(1)) if match else 0.0


def styled_panels(project: Path) -> dict[str, np.ndarray]:
    """The styled panels of the latest build, from the cache's newest style entry."""
    entries = sorted((project / ".comicc/entries/style").glob("*.json"),
                     key=lambda p: p.stat().st_mtime)
    outputs = json.loads(entries[-1].read_text())["body"]["outputs"]
    panels = {}
    for name, digest in outputs.items():
        if name.startswith("panel-"):
            blob = project / ".comicc/objects" / digest[:2] / digest
            panels[name] = np.asarray(Image.open(io.BytesIO(blob.read_bytes())).convert("RGB"),
                                      dtype=np.float32)
    return panels


def drift(before: dict[str, np.ndarray], after: dict[str, np.ndarray], skip: str) -> float:
    """Largest mean absolute pixel change of any untouched panel, as % of 0-255."""
    changes = [np.abs(before[k] - after[k]).mean() / 255 * 100
               for k in before if k != skip and before[k].shape == after[k].shape]
    return max(changes) if changes else float("nan")


def edit_manifest(project: Path, old: str, new: str) -> None:
    manifest = project / "comic.toml"
    text = manifest.read_text(encoding="utf-8")
    if old not in text:
        sys.exit(f"cannot find {old!r} in the manifest")
    manifest.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit_first_panel_balloon(project: Path) -> None:
    """Append to the text of the manifest's first balloon."""
    text = (project / "comic.toml").read_text(encoding="utf-8")
    balloon = re.search(r'text = "([^"]+)"', text).group(1)
    edit_manifest(project, balloon, balloon + " (edited)")


def edit_first_art(project: Path) -> None:
    """Paint a white disc over the top-left of the first panel's art."""
    text = (project / "comic.toml").read_text(encoding="utf-8")
    art = project / re.search(r'art = "([^"]+)"', text).group(1)
    image = Image.open(art).convert("RGB")
    ImageDraw.Draw(image).ellipse((20, 20, image.width // 4, image.height // 4), fill="white")
    image.save(art)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comic", nargs="?", default=str(ROOT / "samples/lighthouse"))
    parser.add_argument("--preset", default="draft")
    parser.add_argument("--steps", type=int)
    args = parser.parse_args()
    extra = ["--preset", args.preset] + (["--steps", str(args.steps)] if args.steps else [])

    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "comic"
        shutil.copytree(args.comic, project, ignore=shutil.ignore_patterns(".comicc", "*.pdf"))
        print(f"comic: {args.comic}  preset: {args.preset}  cpus: {os.cpu_count()}")

        cold, explain = run_build(project, extra)
        cold_style = stage_seconds(explain, "style")
        print(f"cold build               {cold:7.2f} s   (style stage {cold_style:.1f} s)")
        base = styled_panels(project)

        noops, ran = [], set()
        for _ in range(NOOP_RUNS):
            seconds, explain = run_build(project, extra)
            noops.append(seconds)
            ran.update(line.split()[0] for line in explain.splitlines()
                       if re.search(r" ran( in|$)", line))
        print(f"no-op rebuild            {statistics.median(noops):7.2f} s   median of {NOOP_RUNS} "
              f"(min {min(noops):.3f} s, max {max(noops):.3f} s) = "
              f"{statistics.median(noops) / cold * 100:.2f} % of cold; "
              f"stages ran: {sorted(ran) or 'none'}")

        text = (project / "comic.toml").read_text(encoding="utf-8")
        edit_first_panel_balloon(project)
        seconds, explain = run_build(project, extra)
        ran = [line.strip() for line in explain.splitlines() if re.search(r" ran in ", line)]
        print(f"one balloon edited       {seconds:7.2f} s   ran: {'; '.join(ran)}")

        edit_first_art(project)
        seconds, explain = run_build(project, extra)
        style = stage_seconds(explain, "style")
        after = styled_panels(project)
        first = "panel-1.1.png"
        print(f"one panel's art edited   {seconds:7.2f} s   style {style:.1f} s = "
              f"{style / cold_style * 100:.0f} % of cold style; untouched panels moved at most "
              f"{drift(base, after, first):.2f} % of 0-255")

        direction = re.findall(r'^\s*direction = "([^"]+)"', text, re.M)[1]
        edit_manifest(project, direction, direction + ", at dawn")
        seconds, explain = run_build(project, extra)
        style = stage_seconds(explain, "style")
        again = styled_panels(project)
        print(f"one direction edited     {seconds:7.2f} s   style {style:.1f} s = "
              f"{style / cold_style * 100:.0f} % of cold style; untouched panels moved at most "
              f"{drift(after, again, first):.2f} % of 0-255")


if __name__ == "__main__":
    main()
