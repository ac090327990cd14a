"""The build report: `<output stem>.report.html` (one self-contained page) and its JSON twin.

It shows the author what the compiler did: the target matrix p̂ against what the element
classifiers see on the concept art and on the styled art, every panel before and after,
what an independent judge network sees of each element beside the classifiers, the loss curves,
what each stage cost and whether the cache served it, and the build's warnings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import comicc
from comicc import __version__
from comicc.files import write_atomic
from comicc.manifest.diagnostics import AuthorError, Diagnostic
from comicc.manifest.load import Project
from comicc.report.sections import (
    MatrixSection,
    ReportSections,
    StageRun,
    element_names,
    judge_section,
    matrix_section,
    panel_anchor,
    panel_cards,
    stage_lines,
    training_section,
    warning_lines,
)

TEMPLATE_DIR = Path(comicc.__file__).parent / "templates" / "report"
TEMPLATE = "report.html.j2"
JSON_FORMAT = 1


def report_paths(output: Path) -> tuple[Path, Path]:
    """Where the report of a build writing `output` goes: (`<stem>.report.html`, `.json`)."""
    return (output.parent / f"{output.stem}.report.html",
            output.parent / f"{output.stem}.report.json")


def write_report(project: Project, output: Path, stages: Sequence[StageRun],
                 summary: dict[str, Any], warnings: Sequence[Diagnostic],
                 pictures: dict[str, Any], settings: dict[str, Any]) -> Path:
    """Write the HTML report and its JSON twin next to `output`; returns the HTML's path.

    `summary` holds "matrix" (p̂) and, after an ML build, "style" and "classifiers";
    `pictures` are `draw_pictures`' thumbnails, crops and the judge's measures (a cached
    stage of their own in the engine, so a rebuild with nothing changed redraws nothing);
    `settings` are the build's settings as people read them.
    """
    sections = collect_sections(project, output, stages, summary, warnings, settings)
    sections.judge = judge_section(sections.matrix, pictures.get("judge"))
    html_path, json_path = report_paths(output)
    try:
        write_atomic(html_path, render_html(sections, pictures).encode("utf-8"))
        write_atomic(json_path, (json.dumps(report_json(sections), indent=1,
                                            ensure_ascii=False) + "\n").encode("utf-8"))
    except OSError as exc:
        raise AuthorError(Diagnostic("error", f"cannot write the build report: {exc.strerror}",
                                     file=html_path, code="output",
                                     hint="build with --no-report to skip it")) from None
    return html_path


def collect_sections(project: Project, output: Path, stages: Sequence[StageRun],
                     summary: dict[str, Any], warnings: Sequence[Diagnostic],
                     settings: dict[str, Any]) -> ReportSections:
    """The report's numbers and text (everything but the pictures)."""
    comic = project.comic
    style = summary.get("style")
    matrix = matrix_section(summary["matrix"], style)
    lines, totals = stage_lines(stages)
    return ReportSections(
        title=comic.comic.title, authors=list(comic.comic.authors), output=output.name,
        backend=str(settings.get("backend", (style or {}).get("backend", "none"))),
        settings=dict(settings), global_direction=comic.comic.direction,
        element_names=element_names(comic), matrix=matrix,
        panels=panel_cards(comic, matrix, style), stages=lines, stage_totals=totals,
        training=training_section(style, summary.get("classifiers")),
        warnings=warning_lines(warnings))


# -- rendering -------------------------------------------------------------------------

def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals["anchor"] = panel_anchor
    env.filters["num"] = _number
    env.filters["fixed"] = _fixed
    env.filters["heat"] = _heat_style
    return env


def _number(value: float | None, digits: int = 2) -> str:
    """A probability or loss as text; "—" when the build did not compute it."""
    if value is None:
        return "—"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 10 ** -digits):
        return f"{value:.{digits}e}"
    return f"{value:.{digits}f}"


def _fixed(value: float | None, digits: int = 2) -> str:
    """A probability or similarity in fixed notation ("0.00", never "1.6e-03")."""
    return "—" if value is None else f"{value:.{digits}f}"


def _heat_style(value: float | None) -> str:
    """Inline CSS for a heatmap cell: deeper blue for values nearer 1."""
    if value is None:
        return "background-color: transparent"
    v = min(max(float(value), 0.0), 1.0)
    ink = "#fff" if v > 0.55 else "#111"
    return f"background-color: rgba(37, 99, 235, {v:.2f}); color: {ink}"


def render_html(sections: ReportSections, pictures: dict[str, Any]) -> str:
    """The report page: the template filled with the sections and inlined pictures."""
    template = _environment().get_template(TEMPLATE)
    return template.render(r=sections, pictures=pictures, version=__version__)


def report_json(sections: ReportSections) -> dict[str, Any]:
    """The report's numbers as JSON-able data (the twin of the HTML, without pictures)."""
    matrix: MatrixSection = sections.matrix

    def misses(which: str) -> list[dict[str, Any]]:
        return [{"element": c.element, "panel": c.panel, "target": c.target,
                 "probability": getattr(c, which)} for c in matrix.disagreements(which)]

    training = None
    if sections.training is not None:
        t = sections.training
        training = {"steps": t.steps, "seconds_per_step": t.seconds_per_step,
                    "warm_start": t.warm_start, "changed_panels": t.changed_panels,
                    "model": t.model, "backend": t.backend, "device": t.device,
                    "history": t.history, "classifier_accuracy": t.accuracy, "weak": t.weak,
                    "terms": [c.name for c in t.charts]}
    return {
        "format": JSON_FORMAT,
        "comicc": __version__,
        "title": sections.title,
        "authors": sections.authors,
        "output": sections.output,
        "backend": sections.backend,
        "settings": sections.settings,
        "matrix": {
            "elements": matrix.elements,
            "panels": matrix.panels,
            "targets": matrix.targets(),
            "raw_probabilities": matrix.probabilities("raw"),
            "styled_probabilities": matrix.probabilities("styled"),
            "bce_raw": matrix.bce_raw,
            "bce_styled": matrix.bce_styled,
            "disagreements": ({"raw": misses("raw"), "styled": misses("styled")}
                              if matrix.has_probabilities else None),
        },
        "panels": [{"label": c.label, "page": c.page, "number": c.number, "art": c.art,
                    "direction": c.direction, "text_direction": c.text_direction,
                    "elements": c.elements, "regions": c.regions,
                    "balloons": [dataclasses.asdict(b) for b in c.balloons],
                    "changed": c.changed, "strength": c.strength.to_json()}
                   for c in sections.panels],
        "judge": judge_json(sections),
        "training": training,
        "stages": [dataclasses.asdict(s) for s in sections.stages],
        "stage_totals": [dataclasses.asdict(s) for s in sections.stage_totals],
        "warnings": [dataclasses.asdict(w) for w in sections.warnings],
    }


def judge_json(sections: ReportSections) -> dict[str, Any] | None:
    """The judge's summaries, every cell beside the classifier, and its warnings."""
    judge = sections.judge
    if judge is None:
        return None
    return {
        "measure": judge.measure,
        "identity": judge.identity,
        "retrieval": judge.retrieval,
        "presence_agreement": judge.presence_agreement,
        "per_element": judge.per_element,
        "cells": [{"element": row.cell.element, "panel": row.cell.panel,
                   "target": row.cell.target, "classifier": row.cell.styled,
                   "presence": row.presence, "identity": row.identity,
                   "retrieved": row.retrieved, "warning": row.warning}
                  for row in judge.rows],
        "warnings": [{"element": row.cell.element, "panel": row.cell.panel,
                      "message": row.warning} for row in judge.warnings],
    }
