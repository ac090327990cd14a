"""What the author asked `comicc build` for: flags over the manifest's [build] table.

Kept free of pydantic and the manifest models, so a command can hold a request before
deciding whether a full build is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from comicc.manifest.choices import BackendChoice, DeviceChoice, PresetName, StyleNetName

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
