"""Every benchmark script still imports: they are run by hand, so nothing else would notice
a name they import moving or going away."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_every_benchmark_imports():
    names = sorted(p.stem for p in BENCHMARKS.glob("*.py"))
    assert "bench_quality_time" in names
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    done = subprocess.run([sys.executable, "-c", code, *names], cwd=BENCHMARKS,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
