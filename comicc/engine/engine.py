"""The incremental engine: run a stage only when the hash of its declared inputs is new.

A stage (declared in `comicc.engine.stages`: its version, its inputs, its function) returns
named output bytes; the engine, not the stage, decides whether to run it, stores its outputs
in the cache, and remembers its inputs so `--explain` can say which input changed (like
`make -d` / `ninja -d explain`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from comicc import __version__
from comicc.engine.cache import Cache, Entry
from comicc.files import digest


@dataclass(frozen=True)
class Stage:
    """A kind of build step. Bump `version` when its code changes what it produces."""

    name: str
    version: int


@dataclass(frozen=True)
class InputKey:
    """One named input of a stage. `label` is for people only and is never parsed back;
    `panel` is the panel ("1.2") the input belongs to, None for the whole comic or a page."""

    label: str
    panel: str | None = None

    @classmethod
    def of_panel(cls, panel: str, what: str) -> InputKey:
        return cls(f"panel {panel} {what}", panel)


Inputs = dict[InputKey, str]
StageOutput = tuple[dict[str, bytes], dict[str, Any]]  # named output bytes, metadata


def labelled(inputs: Mapping[InputKey, str]) -> dict[str, str]:
    """The inputs as the cache records them (and --explain names them): by label."""
    return {key.label: value for key, value in inputs.items()}


@dataclass
class StageReport:
    """What happened to one stage instance in this build, for --explain and the report."""

    stage: str
    instance: str
    status: str  # "ran" or "reused"
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        name = self.instance if self.instance == self.stage else f"{self.stage} {self.instance}"
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        timing = f" in {self.seconds:.2f}s" if self.status == "ran" else ""
        return f"{name:<16} {self.status}{timing}{why}"


def explain_changes(before: dict[str, str] | None, after: dict[str, str]) -> list[str]:
    """Name the inputs that differ between two builds of one stage instance."""
    if before is None:
        return ["first build"]
    reasons = [f"{name} changed" for name in after if name in before and before[name] != after[name]]
    reasons += [f"{name} added" for name in after if name not in before]
    reasons += [f"{name} removed" for name in before if name not in after]
    return reasons or ["no previous result in the cache"]


class Engine:
    """Runs stages through the cache and records what ran and why."""

    def __init__(self, cache: Cache):
        self.cache = cache
        self.reports: list[StageReport] = []

    def key(self, stage: Stage, inputs: dict[str, str]) -> str:
        """The cache key of a stage instance: its inputs (by label), its version, comicc's."""
        return digest({"stage": stage.name, "version": stage.version, "comicc": __version__,
                       "inputs": inputs})

    def run(self, stage: Stage, instance: str, inputs: Inputs,
            compute: Callable[[], StageOutput]) -> Entry:
        """Return the cached entry for these inputs, or compute, store and return it."""
        named = labelled(inputs)
        key = self.key(stage, named)
        stage_id = f"{stage.name}-{instance}" if instance != stage.name else stage.name
        entry = self.cache.get(stage.name, key)
        if entry is not None:
            self.reports.append(StageReport(stage.name, instance, "reused"))
            self.cache.remember_inputs(stage_id, named)
            return entry
        reasons = explain_changes(self.cache.last_inputs(stage_id), named)
        started = time.perf_counter()
        blobs, meta = compute()
        outputs = {name: self.cache.put_blob(data) for name, data in blobs.items()}
        entry = Entry(stage=stage.name, key=key, inputs=named, outputs=outputs, meta=meta)
        self.cache.put(entry)
        self.cache.remember_inputs(stage_id, named)
        self.reports.append(
            StageReport(stage.name, instance, "ran", reasons, time.perf_counter() - started)
        )
        return entry

    def summary(self) -> str:
        ran = sum(r.status == "ran" for r in self.reports)
        return f"{ran} stage(s) ran, {len(self.reports) - ran} reused"
