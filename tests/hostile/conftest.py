"""Shared checks for hostile input: run the CLI, and prove nothing was lost or left behind."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from comicc.cli import main
from tests.conftest import BASE_MANIFEST

ROOT = Path(__file__).resolve().parents[2]

# A rendered diagnostic's location: `some/comic.toml:12:3: error[...]`.
LOCATED = re.compile(r"comic\.toml:(\d+):(\d+): (error|warning)\[")


@dataclass
class Run:
    """One `comicc` invocation's exit code and output."""

    code: int
    out: str
    err: str

    def located(self) -> list[tuple[int, int]]:
        """(line, column) of every diagnostic that points into comic.toml."""
        return [(int(m.group(1)), int(m.group(2))) for m in LOCATED.finditer(self.err)]


def assert_clean_output(text: str) -> None:
    """No Python traceback or warning, and no raw terminal control sequence."""
    assert "Traceback" not in text, text
    assert not re.search(r"\w+Warning: ", text), text
    raw_controls = [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0]
    assert not raw_controls, f"raw control characters {raw_controls!r} in:\n{text}"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run `comicc ARGS` in-process; every run must print clean output."""

    def run(*argv: str | Path) -> Run:
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        assert_clean_output(captured.err)
        assert_clean_output(captured.out)
        return Run(code, captured.out, captured.err)

    return run


def comicc_process(*argv: str | Path, preexec_fn: Callable[[], None] | None = None,
                   **kwargs: object) -> subprocess.Popen[str]:
    """`python -m comicc ARGS` as a child process with its output piped (unless redirected)."""
    options: dict[str, object] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}

    def prepare() -> None:
        # A shell starts background jobs with SIGINT ignored and children inherit that; the
        # interrupt tests are about comicc, not about how the test run itself was started.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        if preexec_fn is not None:
            preexec_fn()

    return subprocess.Popen([sys.executable, "-m", "comicc", *map(str, argv)], env=env,
                            text=True, preexec_fn=prepare,
                            **options)  # type: ignore[call-overload]


def edit(old: str, new: str, text: str = BASE_MANIFEST) -> str:
    """The manifest with its first `old` replaced (which must be there)."""
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    """1-based line of the first occurrence of `needle`."""
    return text[: text.index(needle)].count("\n") + 1


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (the build cache aside), by relative path."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".comicc" not in p.relative_to(root).parts
    }


def temporaries(root: Path) -> list[Path]:
    """Temporary files an interrupted write could leave (cache or output folder)."""
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def assert_cache_consistent(root: Path, allow_temporaries: bool = False) -> None:
    """Every cache entry parses, matches its checksum and points at intact blobs."""
    cache = root / ".comicc"
    if not cache.exists():
        return
    assert allow_temporaries or not temporaries(cache), temporaries(cache)
    for blob in (cache / "objects").rglob("*") if (cache / "objects").exists() else []:
        if blob.is_file():
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, blob
    for path in (cache / "entries").rglob("*.json") if (cache / "entries").exists() else []:
        record = json.loads(path.read_text(encoding="utf-8"))
        body = record["body"]
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(canonical.encode()).hexdigest() == record["sha256"], path
        for digest in body["outputs"].values():
            blob = cache / "objects" / digest[:2] / digest
            assert blob.is_file(), f"{path} names missing object {digest[:12]}"


# Runs `setup`, then measures `body`: a fresh interpreter, so the peak resident size
# (ru_maxrss, a lifetime maximum) is not already set by torch or an earlier test.
_MEASURE = """
import json, resource, sys, time
namespace = {}
exec(sys.argv[1], namespace)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu = time.process_time()
exec(sys.argv[2], namespace)
cpu = time.process_time() - cpu
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"grown_mib": grown / 1024, "cpu_s": cpu}))
"""


@dataclass
class Measured:
    grown_mib: float  # growth of the peak resident size during the body
    cpu_s: float  # CPU seconds the body took: immune to a busy machine, unlike a wall clock


def measure_fresh(setup: str, body: str) -> Measured:
    """Peak memory growth and CPU time of `body` (Python source) in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, setup, body], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return Measured(**json.loads(done.stdout.splitlines()[-1]))
