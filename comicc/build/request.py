"""What the author asked `comicc build` for: flags over the manifest's [build] table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuildRequest:
    """What the author asked for on the command line (None = take the manifest's value)."""

    path: str | Path | None = None
    output: Path | None = None
    format: str | None = None
    backend: str | None = None
    stylenet: str | None = None
    preset: str | None = None
    device: str | None = None
    steps: int | None = None
    seed: int | None = None
    explain: bool = False
    report: bool = True
    quiet: bool = False
    distributed: bool = False
    cache_dir: Path | None = None  # the build cache's folder (default <project>/.comicc)
