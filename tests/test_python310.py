"""Python 3.10 (which pyproject supports) has no `tomllib`: every module that reads TOML must
fall back to `tomli`. Proven on any interpreter by importing each such module in a fresh
process that claims to be 3.10 and has `tomllib` removed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

AS_PYTHON_310 = """
import importlib, sys
import tomli
# Third-party packages pick their own 3.10 shims (exceptiongroup, ...): import them as 3.11.
import hypothesis, jinja2, numpy, PIL, pydantic, pytest
sys.version_info = (3, 10, 14, "final", 0)
sys.modules["tomllib"] = None  # `import tomllib` now raises ModuleNotFoundError
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    assert module.tomllib is tomli, name
print("ok", len(sys.argv) - 1)
"""


def modules_reading_toml() -> list[str]:
    names = []
    for path in sorted([*ROOT.glob("comicc/**/*.py"), *ROOT.glob("tests/**/*.py")]):
        if re.search(r"^\s*import tomllib\b", path.read_text(encoding="utf-8"), re.MULTILINE):
            names.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return names


def test_every_module_that_reads_toml_imports_on_python_310() -> None:
    names = modules_reading_toml()
    assert "comicc.manifest.load" in names and "tests.hostile.test_fuzz" in names
    done = subprocess.run([sys.executable, "-c", AS_PYTHON_310, *names], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["ok", str(len(names))]
