"""What the author asked `comicc build` for: flags over the manifest's [build] table.

Kept free of pydantic and the manifest models, so a command can hold a request before
deciding whether a full build is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

from comicc.manifest.choices import (
    BackendChoice,
    DeviceChoice,
    PdfFlavour,
    PresetName,
    StyleNetName,
)

OutputFormat = Literal["pdf", "cbz"]


@dataclass(frozen=True)
class BuildRequest:
    """What the author asked for on the command line (None = take the manifest's value)."""

    path: str | Path | None = None
    output: Path | None = None
    format: OutputFormat | None = None
    backend: BackendChoice | None = None
    stylenet: StyleNetName | None = None
    preset: PresetName | None = None
    device: DeviceChoice | None = None
    steps: int | None = None
    seed: int | None = None
    explain: bool = False
    report: bool = True
    quiet: bool = False
    distributed: bool = False
    cache_dir: Path | None = None  # the build cache's folder (default <project>/.comicc)
    pdf: PdfFlavour | None = None  # overrides [comic] pdf

    def options(self) -> dict[str, object]:
        """The flags that change what a build writes (not where, nor what it prints)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_OPTIONS}


# Where the build reads and writes, and how much it says: kept apart from its options.
_NOT_OPTIONS = frozenset({"path", "output", "cache_dir", "explain", "quiet", "distributed"})
