"""A book-length build: the 180-panel synthetic book, cold and after small edits.

    python benchmarks/bench_book.py                          # draw the book, build it, edit it
    python benchmarks/bench_book.py --book /tmp/book180      # a book drawn by benchmarks/book.py
    python benchmarks/bench_book.py --work /tmp/bookrun      # keep the built copy; run again
                                                             # to time the edits on its cache

Runs whole `comicc build --explain` processes (with the report, as an author's build does)
on a copy of the book and prints, with the load average beside each figure: the cold build
(wall, CPU, peak RSS, time per stage), no-op rebuilds, one balloon edited, one panel's art
edited. Then the 7-panel sample's cold build is measured the same way, so the book's peak
RSS can be compared with it: a build must stream its panels, not hold them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from bench_incremental import (
    ROOT,
    BuildProcess,
    build_process,
    edit_first_art,
    edit_first_panel_balloon,
)
from book import write_book

SAMPLE = ROOT / "samples" / "lighthouse"
NOOP_RUNS = 5
IGNORED = shutil.ignore_patterns(".comicc", "*.pdf", "*.report.*", "out.*")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def stage_times(explain: str) -> dict[str, float]:
    """Seconds per stage (all its instances) from `--explain` lines ("page page 3 ran in 0.1s")."""
    totals: dict[str, float] = defaultdict(float)
    for match in re.finditer(r"^(\S+).*? ran in ([0-9.]+)s", explain, re.M):
        totals[match.group(1)] += float(match.group(2))
    return dict(totals)


def ran(explain: str) -> str:
    """The stage instances a build ran, as --explain names them."""
    names = re.findall(r"^(.+?)\s+ran(?: in [0-9.]+s)?(?: \(|$)", explain, re.M)
    return ", ".join(names) if names else "none"


def show(label: str, done: BuildProcess, extra: str = "") -> None:
    print(f"{label:<24}{done.seconds:8.2f} s wall {done.cpu_seconds:8.1f} s CPU "
          f"{done.peak_mib:7.0f} MiB peak RSS  ({load()}){extra}", flush=True)


def show_stages(done: BuildProcess) -> None:
    times = stage_times(done.stdout)
    for stage, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"    {stage:<12}{seconds:8.2f} s")
    print(f"    {'(outside stages)':<12}{done.seconds - sum(times.values()):8.2f} s: start-up, "
          "loading, hashing, writing the output and report")


def copy_project(source: Path, target: Path) -> Path:
    if not (target / "comic.toml").exists():
        shutil.copytree(source, target, ignore=IGNORED, dirs_exist_ok=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book", type=Path, help="a book drawn by benchmarks/book.py "
                        "(default: draw one into a temporary folder)")
    parser.add_argument("--pages", type=int, default=30, help="pages of the book to draw")
    parser.add_argument("--work", type=Path, help="where the built copy lives (kept); "
                        "an existing one is not built cold again")
    parser.add_argument("--preset", default="draft")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, help="override the preset's steps (quick checks)")
    parser.add_argument("--no-art-edit", action="store_true",
                        help="skip the art edit (it retrains the classifiers: minutes)")
    parser.add_argument("--no-sample", action="store_true",
                        help="skip the 7-panel sample's build (the memory comparison)")
    args = parser.parse_args()
    extra = ["--preset", args.preset, "--device", args.device]
    extra += ["--steps", str(args.steps)] if args.steps else []

    with tempfile.TemporaryDirectory() as tmp:
        book = args.book
        if book is None:
            book = Path(tmp) / "drawn"
            write_book(book, args.pages)
        work = args.work or Path(tmp) / "book"
        warm = (work / ".comicc").is_dir()
        project = copy_project(book, work)
        panels = len(re.findall(r"^\s*\[\[page\.panel\]\]", (project / "comic.toml").read_text(),
                                re.M))
        print(f"book: {panels} panels ({book}), preset {args.preset}, device {args.device}, "
              f"{os.cpu_count()} CPUs, {load()}", flush=True)

        first = build_process(project, extra, report=True)
        show("warm start (cached)" if warm else "cold build", first)
        show_stages(first)

        noops = [build_process(project, extra, report=True) for _ in range(NOOP_RUNS)]
        seconds = [n.seconds for n in noops]
        show("no-op rebuild", noops[len(noops) // 2],
             f"\n    median of {NOOP_RUNS} {statistics.median(seconds):.3f} s (min "
             f"{min(seconds):.3f}, max {max(seconds):.3f}); ran: {ran(noops[-1].stdout)}")

        edit_first_panel_balloon(project)
        done = build_process(project, extra, report=True)
        show("one balloon edited", done, f"\n    ran: {ran(done.stdout)}")
        show_stages(done)

        if not args.no_art_edit:
            edit_first_art(project)
            done = build_process(project, extra, report=True)
            show("one panel's art edited", done, f"\n    ran: {ran(done.stdout)}")
            show_stages(done)

        if args.no_sample:
            return
        sample = build_process(copy_project(SAMPLE, Path(tmp) / "sample"), extra, report=True)
        show(f"sample ({SAMPLE.name}) cold", sample)
        print(f"peak RSS, book / sample: {first.peak_mib:.0f} / {sample.peak_mib:.0f} MiB = "
              f"{first.peak_mib / sample.peak_mib:.2f}" + ("" if not warm else
              " (the book's figure is from a warm start, not a cold build)"))


if __name__ == "__main__":
    sys.exit(main())
