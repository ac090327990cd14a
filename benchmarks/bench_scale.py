"""How the style stage scales, measured side by side in one run.

joint vs one panel at a time  the sample comic's style stage (`fit_comic` over all panels,
                              classifier term on) against a CLIPstyler-style loop that
                              fits a fresh network to each panel alone, on the same device,
                              in A-B-B-A order so a change in machine load hits both
memory                        peak memory of the loop + rendering for 6, 24 and 96
                              synthetic panels, each in a fresh process (peak RSS on CPU,
                              max allocated on CUDA)
processes                     1 vs 2 processes under torchrun on CPU (gloo), panels/s
gpu                           on CUDA: the final preset on the sample and on 48 synthetic
                              panels, bf16 autocast on and off

  python benchmarks/bench_scale.py                       # every section this machine can run
  python benchmarks/bench_scale.py --only joint --steps 20
  python benchmarks/bench_scale.py --only memory --sizes 6 24 96
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from comicc.ml.distributed import own_threads  # noqa: E402

own_threads()  # as `comicc build` does, before torch is loaded

import torch  # noqa: E402
from bench_style_loop import build_objective, sync, synthetic_comic  # noqa: E402
from torch import Tensor  # noqa: E402

from comicc.engine.request import BuildRequest  # noqa: E402
from comicc.engine.settings import resolve_settings  # noqa: E402
from comicc.engine.style_stage import (  # noqa: E402
    classify_side,
    panel_texts,
    start_torch,
    style_network,
    style_objective,
    to_png,
    training_data,
)
from comicc.manifest.load import load_project  # noqa: E402
from comicc.ml.backbone import load_backbone  # noqa: E402
from comicc.ml.classifiers import ClassifierBank, train_for_preset  # noqa: E402
from comicc.ml.distributed import (  # noqa: E402
    configure_threads,
    launch_from_environ,
    physical_cores,
)
from comicc.ml.presets import PRESETS  # noqa: E402
from comicc.ml.stylenet import UNetStyleNet  # noqa: E402
from comicc.ml.train import fit_comic, iter_rendered  # noqa: E402

SAMPLE = ROOT / "samples" / "lighthouse"
ELEMENTS = 3
# Synthetic panels are drawn at this size, then treated like art read from disk.
ART_SIZE = 512
COLOURS = ((0.85, 0.15, 0.1), (0.1, 0.25, 0.85), (0.1, 0.6, 0.2))


class SyntheticPanels(Sequence[Tensor]):
    """A long synthetic comic whose panels are drawn when asked for, like art read from
    disk: the comic itself never sits in memory, so the loop's own memory is measured."""

    def __init__(self, count: int, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.count = count
        self.targets = (torch.rand(ELEMENTS, count, generator=gen) < 0.5).float()
        self.targets[torch.arange(ELEMENTS), torch.arange(ELEMENTS) % count] = 1.0

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, j: int) -> Tensor:  # type: ignore[override]
        if not 0 <= j < self.count:
            raise IndexError(j)
        gen = torch.Generator().manual_seed(1000 + j)
        s = ART_SIZE
        yy, xx = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
        image = (0.6 + 0.35 * torch.rand(3, 1, 1, generator=gen)) * (
            0.9 + 0.1 * torch.sin(xx / 9.0 + yy / 23.0)
        )
        for i in range(ELEMENTS):
            if self.targets[i, j] > 0:
                cx, cy = ((torch.rand(2, generator=gen) * 0.5 + 0.25) * s).tolist()
                mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= (0.12 * s) ** 2
                image[:, mask] = torch.tensor(COLOURS[i]).view(3, 1)
        return image.clamp(0, 1)


# -- the machine -----------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    return (
        f"{cpu_model()}, {physical_cores()} physical core(s), {affinity} logical CPU(s) usable; "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {gpu}; Python "
        f"{platform.python_version()}"
    )


def peak_memory_mib(device: torch.device) -> tuple[float, str]:
    """The process's peak memory so far: max allocated on CUDA, else its peak RSS.

    On Linux getrusage's ru_maxrss survives fork and exec, so a phase started by a big
    parent would report the parent's peak; /proc/self/status's VmHWM is this program's own.
    """
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20, "max allocated"
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024, "peak RSS (VmHWM)"
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "peak RSS (ru_maxrss)"


def run_phase(args: argparse.Namespace, phase: str, *extra: str, torchrun: int = 0) -> dict:
    """Run one phase in a fresh process (its own peak memory) and return its JSON line."""
    own = [__file__, "--phase", phase, "--device", args.device, *extra]
    if args.steps:
        own += ["--steps", str(args.steps)]
    if torchrun:
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={torchrun}"]
        command = [sys.executable, *launcher, *own]
    else:
        command = [sys.executable, *own]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


# -- joint vs one panel at a time (the sample) --------------------------------------------


def sample_setup(device_name: str, preset_name: str | None, stylenet: str | None, steps: int | None):
    """The sample's style stage inputs, exactly as its build makes them."""
    project = load_project(SAMPLE)
    settings = resolve_settings(
        project, BuildRequest(device=device_name, preset=preset_name, stylenet=stylenet, steps=steps)
    )
    device = start_torch(settings)
    preset = settings.preset
    backbone = load_backbone(device)
    return project, settings, device, preset, backbone


class Clock:
    """Wall seconds and this process's CPU seconds (all threads) since it was made.

    CPU seconds hardly change with the machine's load (idle threads sleep, see
    own_threads), so on a shared machine their ratios are the steadier figure.
    """

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def joint_vs_single(args: argparse.Namespace) -> dict:
    """Seconds and panels/s of the sample's joint loop and of the one-panel-at-a-time loop."""
    project, settings, device, preset, backbone = sample_setup(
        args.device, args.preset, args.stylenet, args.steps
    )
    small, references, targets, regions = training_data(project, classify_side(preset))
    clock = Clock()
    bank = train_for_preset(
        backbone, references, small, targets, regions, preset, seed=settings.seed, device=device
    )
    sync(device)
    classifiers = clock.read()
    panels, _, targets, regions = training_data(project, preset.long_side, lazy=True)
    texts = panel_texts(project)
    n = len(panels)

    def fit(one: list[int], lam: float) -> list[float]:
        """Fit a fresh network (as a build makes it) to panels `one`; its steady step times."""
        net, conds, learn, _ = style_network(project, settings, device, texts)
        chosen = [panels[j] for j in one]
        conds = conds[one]
        objective = style_objective(project, settings, device, net, chosen, conds,
                                    [texts[j] for j in one], backbone)
        result = fit_comic(
            net,
            chosen,
            conds,
            objective,
            bank if lam > 0 else None,
            targets[:, one],
            [regions[j] for j in one],
            preset=preset.with_overrides(lam=lam),
            steps=preset.steps,
            seed=settings.seed,
            device=device,
            learn_conds=learn,
        )
        return [h.seconds for h in result.history[1:]]  # the first step pays one-off set-up

    def joint() -> tuple[float, float, list[float]]:
        clock = Clock()
        steps = fit(list(range(n)), preset.lam)
        sync(device)
        return (*clock.read(), steps)

    def one_at_a_time() -> tuple[float, float, list[float]]:
        clock = Clock()
        steps = [s for j in range(n) for s in fit([j], 0.0)]
        sync(device)
        return (*clock.read(), steps)

    runs: dict[str, list[tuple[float, float, list[float]]]] = {"joint": [], "single": []}
    for name in ("joint", "single", "single", "joint")[: 4 if args.rounds > 1 else 2]:
        runs[name].append(joint() if name == "joint" else one_at_a_time())
    wall = {k: sum(r[0] for r in v) / len(v) for k, v in runs.items()}
    cpu = {k: sum(r[1] for r in v) / len(v) for k, v in runs.items()}
    median = {k: statistics.median(s for r in v for s in r[2]) for k, v in runs.items()}
    return {
        "panels": n,
        "model": style_network(project, settings, device, texts)[3],
        "preset": preset.name,
        "size": preset.size,
        "steps": preset.steps,
        "batch": min(n, preset.panels_per_step),
        "device": str(device),
        "classifier_seconds": classifiers[0],
        "classifier_cpu_seconds": classifiers[1],
        "seconds": wall,
        "cpu_seconds": cpu,
        "median_step": median,
        "panels_per_second": {k: n / v for k, v in wall.items()},
        "ratio": wall["single"] / wall["joint"],
        "ratio_cpu": cpu["single"] / cpu["joint"],
        "ratio_with_classifiers": wall["single"] / (wall["joint"] + classifiers[0]),
        "ratio_steady": n * median["single"] / median["joint"],
    }


# -- memory ---------------------------------------------------------------------------


def synthetic_bank(device: torch.device, preset_name: str | None, path: Path) -> Path:
    """Element classifiers for the synthetic comics, trained once on 6 panels, saved."""
    preset = PRESETS[preset_name or "draft"]
    art, references, targets, _ = synthetic_comic(6, ELEMENTS)
    bank = train_for_preset(
        load_backbone(device), references, art, targets, [{}] * 6, preset, seed=0, device=device
    )
    bank.save(path)
    return path


def memory_phase(args: argparse.Namespace) -> dict:
    """One size in this fresh process: the loop and rendering over N synthetic panels."""
    configure_threads()
    device = torch.device(args.device)
    preset = PRESETS[args.preset or "draft"].with_overrides(steps=args.steps or 10)
    backbone = load_backbone(device)
    bank = ClassifierBank.load(args.bank, backbone)  # the classify stage is not measured here
    style = synthetic_comic(1, ELEMENTS)[3]
    panels = SyntheticPanels(args.panels)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    baseline, kind = peak_memory_mib(device)
    objective = build_objective(SimpleNamespace(backend="gram"), preset, backbone, style, args.panels, device)
    conds = torch.zeros(args.panels, 2)
    conds[torch.arange(args.panels), torch.arange(args.panels) % 2] = 1.0
    net = UNetStyleNet(width=preset.unet_width, cond_dim=2)
    started = time.perf_counter()
    result = fit_comic(
        net,
        panels,
        conds,
        objective,
        bank,
        panels.targets,
        [{}] * args.panels,
        preset=preset,
        steps=preset.steps,
        seed=0,
        device=device,
    )
    fit_seconds = time.perf_counter() - started
    png_bytes = 0
    for image in iter_rendered(net, panels, result.conds, preset.long_side, device):
        png_bytes += len(to_png(image))  # encoded and dropped, as the style stage does
    peak, kind = peak_memory_mib(device)
    return {
        "panels": args.panels,
        "peak_mib": peak,
        "before_loop_mib": baseline,
        "memory": kind,
        "fit_seconds": fit_seconds,
        "steps": preset.steps,
        "batch": preset.panels_per_step,
        "size": preset.size,
        "long_side": preset.long_side,
        "png_mib": png_bytes / 2**20,
    }


# -- 1 vs 2 processes -------------------------------------------------------------------


def processes_phase(args: argparse.Namespace) -> dict | None:
    """One rank of a torchrun launch (or a lone process): throughput of the joint loop."""
    launch = launch_from_environ()
    threads = configure_threads(launch.local_world_size if launch else 1)
    if launch is not None:
        import torch.distributed as dist

        dist.init_process_group("gloo")
    device = torch.device("cpu")
    preset = PRESETS[args.preset or "draft"].with_overrides(steps=args.steps or 12)
    backbone = load_backbone(device)
    style = synthetic_comic(1, ELEMENTS)[3]
    panels = SyntheticPanels(args.panels)
    bank = ClassifierBank.load(args.bank, backbone)  # every rank the same heads, as in a build
    objective = build_objective(SimpleNamespace(backend="gram"), preset, backbone, style, args.panels, device)
    torch.manual_seed(0)
    net = UNetStyleNet(width=preset.unet_width, cond_dim=2)
    conds = torch.zeros(args.panels, 2)
    conds[torch.arange(args.panels), torch.arange(args.panels) % 2] = 1.0
    stamps: list[float] = []
    fit_comic(
        net,
        panels,
        conds,
        objective,
        bank,
        panels.targets,
        [{}] * args.panels,
        preset=preset,
        steps=preset.steps,
        seed=0,
        device=device,
        distributed=launch is not None,
        progress=lambda log: stamps.append(time.perf_counter()),
    )
    world = launch.world_size if launch else 1
    if launch is not None:
        import torch.distributed as dist

        dist.destroy_process_group()
        if not launch.is_main:
            return None
    batch = min(args.panels, preset.panels_per_step)
    seconds = stamps[-1] - stamps[0]  # from the end of the first step: set-up excluded
    return {
        "processes": world,
        "threads": threads or torch.get_num_threads(),
        "panels_per_second": batch * (len(stamps) - 1) / seconds,
        "seconds_per_step": seconds / (len(stamps) - 1),
        "steps": preset.steps,
        "batch": batch,
    }


# -- GPU ----------------------------------------------------------------------------------


def gpu_phase(args: argparse.Namespace) -> dict:
    """The final preset on CUDA for the sample or a synthetic comic, bf16 on or off."""
    bf16 = args.bf16 == "on"
    device = torch.device("cuda")
    torch.cuda.reset_peak_memory_stats()
    if args.panels == 0:
        project, settings, device, preset, backbone = sample_setup("cuda", "final", None, args.steps)
        small, references, targets, regions = training_data(project, classify_side(preset))
        panels, _, _, _ = training_data(project, preset.long_side, lazy=True)
        texts = panel_texts(project)
        started = time.perf_counter()
        bank = train_for_preset(
            backbone, references, small, targets, regions, preset, seed=settings.seed, device=device
        )
        sync(device)
        classifier_seconds = time.perf_counter() - started
        net, conds, learn, model = style_network(project, settings, device, texts)
        objective = style_objective(project, settings, device, net, panels, conds, texts, backbone)
        seed = settings.seed
    else:
        preset = PRESETS["final"].with_overrides(steps=args.steps)
        backbone = load_backbone(device)
        art, references, art_targets, style = synthetic_comic(6, ELEMENTS)
        panels = SyntheticPanels(args.panels)
        targets, regions = panels.targets, [{}] * args.panels
        started = time.perf_counter()
        bank = train_for_preset(
            backbone, references, art, art_targets, [{}] * 6, preset, seed=0, device=device
        )
        sync(device)
        classifier_seconds = time.perf_counter() - started
        conds = torch.zeros(args.panels, 2)
        conds[torch.arange(args.panels), torch.arange(args.panels) % 2] = 1.0
        net, learn, model = UNetStyleNet(width=preset.unet_width, cond_dim=2), False, "unet"
        objective = build_objective(
            SimpleNamespace(backend="gram"), preset, backbone, style, args.panels, device
        )
        seed = 0
    started = time.perf_counter()
    result = fit_comic(
        net,
        panels,
        conds,
        objective,
        bank,
        targets,
        regions,
        preset=preset,
        steps=preset.steps,
        seed=seed,
        device=device,
        learn_conds=learn,
        mixed_precision=bf16,
    )
    sync(device)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for image in iter_rendered(net, panels, result.conds, preset.long_side, device):
        to_png(image)
    render_seconds = time.perf_counter() - started
    return {
        "comic": "sample" if args.panels == 0 else f"{args.panels} synthetic panels",
        "panels": len(panels),
        "model": model,
        "bf16": bf16,
        "steps": preset.steps,
        "classifier_seconds": classifier_seconds,
        "fit_seconds": fit_seconds,
        "render_seconds": render_seconds,
        "seconds_per_step": result.seconds_per_step,
        "peak_mib": torch.cuda.max_memory_allocated() / 2**20,
        "gpu": torch.cuda.get_device_name(0),
    }


# -- the report ---------------------------------------------------------------------------


def report_joint(args: argparse.Namespace) -> None:
    print(f"\n## joint loop vs one panel at a time: {SAMPLE.relative_to(ROOT)} ({load()})")
    r = joint_vs_single(args)
    order = "means of A-B-B-A" if args.rounds > 1 else "A-B"
    print(
        f"{r['panels']} panels, {r['model']}, preset {r['preset']} ({r['size']}px, {r['steps']} "
        f"steps, batch {r['batch']}), {r['device']}; {order}"
    )
    print(f"{'loop':<22}{'wall s':>8}{'CPU s':>8}{'s/step (median)':>17}{'panels/s':>10}")
    for key, label in (("joint", "joint (all panels)"), ("single", "one panel at a time")):
        print(
            f"{label:<22}{r['seconds'][key]:>8.1f}{r['cpu_seconds'][key]:>8.1f}"
            f"{r['median_step'][key]:>17.3f}{r['panels_per_second'][key]:>10.4f}"
        )
    print(
        f"joint / one-at-a-time panels/s: {r['ratio']:.2f}x wall, {r['ratio_cpu']:.2f}x CPU "
        f"(steady-state steps {r['ratio_steady']:.2f}x); counting the joint loop's classifier "
        f"training ({r['classifier_seconds']:.1f} s wall, {r['classifier_cpu_seconds']:.1f} s CPU): "
        f"{r['ratio_with_classifiers']:.2f}x wall  ({load()})"
    )


def report_memory(args: argparse.Namespace) -> None:
    print(f"\n## peak memory, fresh process per size ({load()})")
    with tempfile.TemporaryDirectory() as tmp:
        bank = synthetic_bank(torch.device(args.device), args.preset, Path(tmp) / "bank.safetensors")
        rows = [run_phase(args, "memory", "--panels", str(n), "--bank", str(bank)) for n in args.sizes]
    print(f"{'panels':>7}{'peak MiB':>10}{'before loop':>13}{'fit s':>8}  (kind)")
    for r in rows:
        print(
            f"{r['panels']:>7}{r['peak_mib']:>10.0f}{r['before_loop_mib']:>13.0f}"
            f"{r['fit_seconds']:>8.1f}  ({r['memory']}; {r['steps']} steps, batch {r['batch']}, "
            f"{r['size']}px, rendered at {r['long_side']}px)"
        )
    by_size = {r["panels"]: r["peak_mib"] for r in rows}
    if 24 in by_size and 96 in by_size:
        ratio = by_size[96] / by_size[24]
        verdict = "meets" if ratio <= 1.2 else "misses"
        print(f"peak(96) / peak(24) = {ratio:.3f} ({verdict} the 1.2 bound)  ({load()})")


def report_processes(args: argparse.Namespace) -> None:
    print(f"\n## 1 vs 2 processes under torchrun, gloo on CPU, A-B-B-A ({load()})")
    with tempfile.TemporaryDirectory() as tmp:
        bank = synthetic_bank(torch.device("cpu"), args.preset, Path(tmp) / "bank.safetensors")
        rows = [
            run_phase(args, "processes", "--panels", str(args.process_panels), "--bank", str(bank), torchrun=p)
            for p in (1, 2, 2, 1)
        ]
    by = {p: [r for r in rows if r["processes"] == p] for p in (1, 2)}
    mean = {p: sum(r["panels_per_second"] for r in rs) / len(rs) for p, rs in by.items()}
    for p in (1, 2):
        r = by[p][0]
        per_step = ", ".join(f"{x['seconds_per_step']:.2f}" for x in by[p])
        print(
            f"{p} process(es) x {r['threads']} thread(s): {mean[p]:.3f} panels/s "
            f"({per_step} s/step; "
            f"{r['steps']} steps, global batch {r['batch']} of {args.process_panels} panels)"
        )
    print(f"2 / 1 processes: {mean[2] / mean[1]:.2f}x  ({load()})")


def report_gpu(args: argparse.Namespace) -> None:
    print("\n## GPU, final preset")
    if not torch.cuda.is_available():
        print("no CUDA device")
        return
    for panels in (0, 48):
        for bf16 in ("on", "off"):
            r = run_phase(args, "gpu", "--panels", str(panels), "--bf16", bf16)
            print(
                f"{r['comic']:<20} bf16 {bf16:<4} classifiers {r['classifier_seconds']:6.1f} s  "
                f"fit {r['fit_seconds']:7.1f} s ({r['seconds_per_step']:.3f} s/step)  render "
                f"{r['render_seconds']:6.1f} s  peak {r['peak_mib']:.0f} MiB  [{r['gpu']}]"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["joint", "memory", "processes", "gpu"], nargs="*")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", choices=sorted(PRESETS))
    parser.add_argument(
        "--stylenet",
        choices=["pretrained", "unet"],
        help="the joint comparison's network (default: the sample's own)",
    )
    parser.add_argument("--steps", type=int, help="override the preset's steps")
    parser.add_argument("--rounds", type=int, default=2, help="1: A-B only; 2: A-B-B-A")
    parser.add_argument("--sizes", type=int, nargs="*", default=[6, 24, 96])
    parser.add_argument("--process-panels", type=int, default=8)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--panels", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--bf16", choices=["on", "off"], default="on", help=argparse.SUPPRESS)
    parser.add_argument("--bank", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        out = {"memory": memory_phase, "processes": processes_phase, "gpu": gpu_phase}[args.phase](args)
        if out is not None:
            print(json.dumps(out))
        return

    configure_threads()
    print(f"comicc scale benchmark: {machine()}")
    print(f"started with {load()}")
    sections = args.only or ["joint", "memory", "processes", "gpu"]
    for name, report in (
        ("joint", report_joint),
        ("memory", report_memory),
        ("processes", report_processes),
        ("gpu", report_gpu),
    ):
        if name in sections:
            report(args)


if __name__ == "__main__":
    main()
