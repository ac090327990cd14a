"""A build's worth of report inputs without running the ML stages: a real project and cache,
styled panels made with Pillow, and a hand-made style summary with known disagreements."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from comicc.engine.cache import Cache
from comicc.engine.engine import Engine, StageReport
from comicc.engine.pipeline import write_build_report
from comicc.engine.request import BuildRequest
from comicc.engine.settings import BuildSettings, resolve_settings
from comicc.manifest.diagnostics import Diagnostic, DiagnosticSink
from comicc.manifest.images import load_image
from comicc.manifest.load import Project, load_project
from comicc.manifest.matrix import target_matrix
from tests.conftest import BASE_MANIFEST, write_project

# Styled probabilities that contradict p̂ in two cells: mara is "seen" in panel 1.2 (where
# p̂ = 0) and tower is "missed" in panel 1.1 (where p̂ = 1).
STYLED = {"mara": [0.91, 0.8], "tower": [0.3, 0.97]}
RAW = {"mara": [0.66, 0.12], "tower": [0.75, 0.58]}


@dataclass
class FakeBuild:
    """Everything `write_report` takes, for one project."""

    project: Project
    output: Path
    engine: Engine
    summary: dict[str, Any]
    sink: DiagnosticSink
    styled_blobs: list[str] | None
    cache: Cache
    settings: BuildSettings

    def write(self) -> Path:
        return write_build_report(self.project, self.output, self.engine, self.summary,
                                  self.sink, self.styled_blobs, self.settings)

    def json(self) -> dict[str, Any]:
        return json.loads(self.output.with_name(f"{self.output.stem}.report.json").read_text())


def posterised(image: Image.Image) -> Image.Image:
    return ImageOps.posterize(image, 2)


def fake_build(root: Path, manifest: str = BASE_MANIFEST, ml: bool = True,
               stylise: Callable[[Image.Image], Image.Image] = posterised) -> FakeBuild:
    """A project in `root` with the inputs a build would hand to `write_report`."""
    write_project(root, manifest)
    project = load_project(root)
    cache = Cache(root)
    engine = Engine(cache)
    engine.reports += [StageReport("page", "page 1", "ran", ["first build"], 0.25),
                       StageReport("pdf", "pdf", "reused")]
    matrix = json.loads(target_matrix(project.comic).to_json())
    summary: dict[str, Any] = {"matrix": matrix}
    sink = DiagnosticSink()
    sink.extend(project.warnings)
    sink.add(project.locate(Diagnostic("warning", "balloon text runs past its frame",
                                       key_path=("page", 0, "panel", 0, "balloons", 0),
                                       hint="shorten it", code="lettering")))
    blobs = None
    settings = resolve_settings(project, BuildRequest(backend="gram" if ml else "none",
                                                      device="cpu"))
    if ml:
        blobs = []
        for _, _, panel in project.comic.panels():
            out = io.BytesIO()
            stylise(load_image(project.path(panel.art))).save(out, format="PNG")
            blobs.append(cache.put_blob(out.getvalue()))
        engine.reports.insert(0, StageReport("style", "style", "ran", ["first build"], 3.5))
        # The style summary lists elements in its own order; the report must map by name.
        names = list(reversed(matrix["elements"]))
        summary["style"] = {
            "elements": names,
            "panels": matrix["panels"],
            "targets": [matrix["matrix"][matrix["elements"].index(n)] for n in names],
            "raw_probabilities": [_row(RAW, n, matrix) for n in names],
            "styled_probabilities": [_row(STYLED, n, matrix) for n in names],
            "agreement_raw": 0.41,
            "agreement_styled": 0.37,
            "history": [{"step": s, "total": 5.0 / (s + 1) + 1, "seconds": 0.1,
                         "style": 4.0 / (s + 1), "content": 1.0, "consistency": 0.5 * 0.9 ** s}
                        for s in range(12)],
            "seconds_per_step": 0.1,
            "steps": 12,
            "warm_start": False,
            "changed_panels": [],
            "model": "multistyle26",
            "backend": "gram",
            "device": "cpu",
            "directions": ["ink wash, stormy night", "ink wash"],
        }
        summary["classifiers"] = {"accuracy": {"mara": 0.9, "tower": 0.62}, "weak": ["tower"]}
    return FakeBuild(project, root / "out" / "book.pdf", engine, summary, sink, blobs, cache,
                     settings)


def _row(table: dict[str, list[float]], name: str, matrix: dict[str, Any]) -> list[float]:
    """`table`'s probabilities for the first panels; panels beyond them agree with p̂."""
    targets = matrix["matrix"][matrix["elements"].index(name)]
    return table[name][: len(targets)] + [0.9 if t else 0.1 for t in targets[len(table[name]):]]


@pytest.fixture
def ml_build(tmp_path: Path) -> FakeBuild:
    return fake_build(tmp_path)


@pytest.fixture(scope="module")
def ml_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[FakeBuild, str]:
    """One written ML report (and its HTML), shared by tests that only read it."""
    fake = fake_build(tmp_path_factory.mktemp("ml_report"))
    return fake, fake.write().read_text(encoding="utf-8")


@pytest.fixture
def layout_build(tmp_path: Path) -> FakeBuild:
    return fake_build(tmp_path, ml=False)
