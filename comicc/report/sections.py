"""The numbers a build report shows, gathered from the build's own records.

Everything here is plain data (dataclasses of numbers and author text) built from the
manifest, the build summary, the engine's stage reports and the diagnostics; the HTML
template and the JSON twin are two renderings of it. No images and no torch here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from comicc.manifest.diagnostics import Diagnostic, format_key_path
from comicc.manifest.models import Comic
from comicc.manifest.strength import PanelStrength, panel_strength
from comicc.report.charts import LineChart, loss_charts


class StageRun(Protocol):
    """One stage instance of a build as the engine records it (`comicc.engine.engine.StageReport`)."""

    stage: str
    instance: str
    status: str  # "ran" or "reused"
    reasons: list[str]
    seconds: float


# A classifier "says present" above this probability.
THRESHOLD = 0.5


def panel_anchor(label: str) -> str:
    """The HTML id of a panel's card: "1.2" -> "panel-1-2"."""
    return "panel-" + label.replace(".", "-")


def disagrees(target: int, probability: float | None) -> bool:
    """A classifier disagrees with p̂ when it misses a present element or sees an absent one."""
    if probability is None:
        return False
    return probability < THRESHOLD if target == 1 else probability > THRESHOLD


@dataclass(frozen=True)
class Cell:
    """One (element, panel) entry of the matrix: p̂ and the classifiers' probabilities."""

    element: str
    panel: str
    target: int
    raw: float | None
    styled: float | None

    @property
    def anchor(self) -> str:
        return panel_anchor(self.panel)

    @property
    def raw_disagrees(self) -> bool:
        return disagrees(self.target, self.raw)

    @property
    def styled_disagrees(self) -> bool:
        return disagrees(self.target, self.styled)


@dataclass(frozen=True)
class MatrixSection:
    """p̂ beside the classifiers' probabilities on the concept art and on the styled art."""

    elements: list[str]
    panels: list[str]
    rows: list[list[Cell]]
    has_probabilities: bool
    bce_raw: float | None = None
    bce_styled: float | None = None

    def targets(self) -> list[list[int]]:
        return [[c.target for c in row] for row in self.rows]

    def probabilities(self, which: str) -> list[list[float | None]] | None:
        if not self.has_probabilities:
            return None
        return [[getattr(c, which) for c in row] for row in self.rows]

    def disagreements(self, which: str) -> list[Cell]:
        """Cells where the classifiers on `which` ("raw" or "styled") contradict p̂."""
        return [c for row in self.rows for c in row if getattr(c, f"{which}_disagrees")]

    def agreeing(self, which: str) -> int:
        return sum(len(row) for row in self.rows) - len(self.disagreements(which))

    @property
    def cell_count(self) -> int:
        return sum(len(row) for row in self.rows)


@dataclass(frozen=True)
class JudgeRow:
    """One (element, panel): the build's classifier on the styled art beside the judge."""

    cell: Cell
    presence: float
    identity: float | None
    retrieved: str | None
    warning: str | None  # why the classifier and the judge disagree here, or None

    @property
    def judge_present(self) -> bool:
        return self.presence >= THRESHOLD


@dataclass(frozen=True)
class JudgeSection:
    """The independent judge's measures (`comicc.report.judging`) beside the classifiers."""

    measure: str
    rows: list[JudgeRow]
    identity: float | None
    retrieval: float | None
    presence_agreement: float | None
    per_element: dict[str, dict[str, float | None]]

    @property
    def warnings(self) -> list[JudgeRow]:
        return [row for row in self.rows if row.warning]

    def element_rows(self, element: str) -> list[JudgeRow]:
        return [row for row in self.rows if row.cell.element == element]

    def row(self, element: str, panel: str) -> JudgeRow | None:
        return next((r for r in self.rows
                     if r.cell.element == element and r.cell.panel == panel), None)


def judge_disagreement(cell: Cell, presence: float, retrieved: str | None) -> str | None:
    """Why the build's classifier (p on the styled art) and the judge disagree on a cell p̂
    says is present, or None: the classifier sees it and the judge does not (or takes it for
    another element), or the classifier misses it and the judge sees it."""
    if cell.target != 1 or cell.styled is None:
        return None
    p = cell.styled
    if p >= THRESHOLD and presence < THRESHOLD:
        return (f"the classifier sees it (p {p:.2f}) but the independent judge does not "
                f"(presence {presence:.2f})")
    if p >= THRESHOLD and retrieved is not None and retrieved != cell.element:
        return (f"the classifier sees it (p {p:.2f}) but to the independent judge it looks "
                f"more like `{retrieved}`")
    if p < THRESHOLD and presence >= THRESHOLD:
        return (f"the classifier misses it (p {p:.2f}) but the independent judge sees it "
                f"(presence {presence:.2f})")
    return None


def judge_section(matrix: MatrixSection, judge: Mapping[str, Any] | None) -> JudgeSection | None:
    """The judge's cells (`pictures["judge"]`) joined with the matrix by element and panel."""
    if not judge:
        return None
    cells = {(c.element, c.panel): c for row in matrix.rows for c in row}
    rows = []
    for data in judge["cells"]:
        cell = cells[(data["element"], data["panel"])]
        rows.append(JudgeRow(cell, data["presence"], data["identity"], data["retrieved"],
                             judge_disagreement(cell, data["presence"], data["retrieved"])))
    return JudgeSection(judge["measure"], rows, judge["identity"], judge["retrieval"],
                        judge["presence_agreement"], dict(judge["per_element"]))


_SEEN_HINT = ("the restyle may keep only what the classifier looks for: compare its crops in "
              "the report's judge section; a lower strength for this panel, a region for the "
              "element or clearer references may keep it")
_MISSED_HINT = ("the classifier, not the art, may be wrong here: add references that show the "
                "element clearly, or a region for it in this panel")


def judge_warnings(comic: Comic, section: JudgeSection | None) -> list[Diagnostic]:
    """A warning at the panel's `elements` entry for every cell where the judge disagrees."""
    if section is None:
        return []
    where = {f"{p + 1}.{j + 1}": (p, j, panel) for p, j, panel in comic.panels()}
    found = []
    for row in section.warnings:
        p, j, panel = where[row.cell.panel]
        key_path: tuple[str | int, ...] = ("page", p, "panel", j)
        if row.cell.element in panel.elements:
            key_path += ("elements", list(panel.elements).index(row.cell.element))
        found.append(Diagnostic(
            "warning", f"`{row.cell.element}` in panel {row.cell.panel}: {row.warning}",
            key_path=key_path, code="judge",
            hint=_SEEN_HINT if row.cell.styled is not None and row.cell.styled >= THRESHOLD
            else _MISSED_HINT))
    return found


@dataclass(frozen=True)
class BalloonText:
    kind: str
    speaker: str | None
    text: str


@dataclass(frozen=True)
class PanelCard:
    """One panel as the author wrote it, and what the classifiers say about the styled result."""

    label: str
    page: int
    number: int
    art: str
    direction: str
    text_direction: str
    elements: list[str]
    regions: dict[str, list[float]]
    balloons: list[BalloonText]
    changed: bool
    cells: list[Cell]
    strength: PanelStrength = PanelStrength(1.0, "comic")

    @property
    def anchor(self) -> str:
        return panel_anchor(self.label)

    @property
    def notable_cells(self) -> list[Cell]:
        """The elements present here, then absent ones a classifier claims to see."""
        return [c for c in self.cells if c.target] + [
            c for c in self.cells if not c.target and (c.raw_disagrees or c.styled_disagrees)]


@dataclass(frozen=True)
class StageLine:
    """One stage instance of this build: ran or reused, how long, why."""

    stage: str
    instance: str
    status: str
    seconds: float
    reasons: list[str]


@dataclass(frozen=True)
class StageTotal:
    """Cache reuse and time of all instances of one stage (e.g. every `page`)."""

    stage: str
    ran: int
    reused: int
    seconds: float


@dataclass(frozen=True)
class TrainingSection:
    """The style fit: loss curves, speed, warm start, and the classifiers' held-out accuracy."""

    charts: list[LineChart]
    history: list[dict[str, float]]
    steps: int | None
    seconds_per_step: float | None
    warm_start: bool
    changed_panels: list[str]
    model: str | None
    backend: str | None
    device: str | None
    accuracy: dict[str, float | None]
    weak: list[str]


@dataclass(frozen=True)
class WarningLine:
    """A build diagnostic with its manifest location."""

    severity: str
    code: str
    message: str
    location: str
    key_path: str
    hint: str | None
    rendered: str


@dataclass
class ReportSections:
    """Everything the report shows except the pictures."""

    title: str
    authors: list[str]
    output: str
    backend: str
    settings: dict[str, Any]
    global_direction: str
    element_names: dict[str, str]
    matrix: MatrixSection
    panels: list[PanelCard]
    stages: list[StageLine]
    stage_totals: list[StageTotal]
    training: TrainingSection | None
    warnings: list[WarningLine]
    judge: JudgeSection | None = field(default=None)


def _probability_rows(style: Mapping[str, Any] | None, key: str, elements: Sequence[str],
                      panels: Sequence[str]) -> dict[tuple[str, str], float]:
    """`style[key]` ([E][N] over the style summary's own element/panel order) as a lookup."""
    if not style or key not in style:
        return {}
    names, labels = style.get("elements", elements), style.get("panels", panels)
    return {(e, p): float(v) for e, row in zip(names, style[key], strict=True)
            for p, v in zip(labels, row, strict=True)}


def matrix_section(matrix: Mapping[str, Any], style: Mapping[str, Any] | None) -> MatrixSection:
    """Combine the build's p̂ (`summary["matrix"]`) with the style summary's probabilities."""
    elements, panels = list(matrix["elements"]), list(matrix["panels"])
    raw = _probability_rows(style, "raw_probabilities", elements, panels)
    styled = _probability_rows(style, "styled_probabilities", elements, panels)
    rows = [[Cell(e, p, int(matrix["matrix"][i][j]), raw.get((e, p)), styled.get((e, p)))
             for j, p in enumerate(panels)] for i, e in enumerate(elements)]
    return MatrixSection(elements, panels, rows, has_probabilities=bool(raw or styled),
                         bce_raw=(style or {}).get("agreement_raw"),
                         bce_styled=(style or {}).get("agreement_styled"))


def panel_cards(comic: Comic, matrix: MatrixSection,
                style: Mapping[str, Any] | None) -> list[PanelCard]:
    """One card per panel, in reading order, with its cells of the matrix."""
    texts = list((style or {}).get("directions") or [])
    changed = set((style or {}).get("changed_panels") or []) if (style or {}).get("warm_start") \
        else set()
    by_panel = {p: [row[j] for row in matrix.rows] for j, p in enumerate(matrix.panels)}
    cards = []
    for index, (p, j, panel) in enumerate(comic.panels()):
        label = f"{p + 1}.{j + 1}"
        text = texts[index] if index < len(texts) else ", ".join(
            t for t in (comic.comic.direction, panel.direction) if t.strip())
        cards.append(PanelCard(
            label=label, page=p + 1, number=j + 1, art=panel.art, direction=panel.direction,
            text_direction=text, elements=list(panel.elements),
            regions={k: list(v) for k, v in panel.regions.items()},
            balloons=[BalloonText(b.kind, b.speaker, b.text) for b in panel.balloons],
            changed=label in changed, cells=by_panel.get(label, []),
            strength=panel_strength(comic, p, j)))
    return cards


def stage_lines(reports: Sequence[StageRun]) -> tuple[list[StageLine], list[StageTotal]]:
    """Each stage instance of the build, and per stage how many ran, were reused, and time."""
    lines = [StageLine(r.stage, r.instance, r.status, round(r.seconds, 4), list(r.reasons))
             for r in reports]
    totals: dict[str, list[float]] = {}
    for r in reports:
        ran, reused, seconds = totals.setdefault(r.stage, [0, 0, 0.0])
        totals[r.stage] = [ran + (r.status == "ran"), reused + (r.status != "ran"),
                           seconds + r.seconds]
    return lines, [StageTotal(stage, int(v[0]), int(v[1]), round(v[2], 4))
                   for stage, v in totals.items()]


def training_section(style: Mapping[str, Any] | None,
                     classifiers: Mapping[str, Any] | None) -> TrainingSection | None:
    """The style fit's curves and figures; None when no ML ran (backend none)."""
    if not style:
        return None
    history = [dict(h) for h in style.get("history") or []]
    return TrainingSection(
        charts=loss_charts(history), history=history, steps=style.get("steps"),
        seconds_per_step=style.get("seconds_per_step"), warm_start=bool(style.get("warm_start")),
        changed_panels=list(style.get("changed_panels") or []), model=style.get("model"),
        backend=style.get("backend"), device=style.get("device"),
        accuracy=dict((classifiers or {}).get("accuracy") or {}),
        weak=list((classifiers or {}).get("weak") or []))


def warning_lines(diagnostics: Sequence[Diagnostic]) -> list[WarningLine]:
    """The build's diagnostics, errors first, each with its file:line:col and key path."""
    ordered = sorted(diagnostics, key=lambda d: d.severity != "error")
    return [WarningLine(d.severity, d.code, d.message, d.location(),
                        format_key_path(d.key_path) if d.key_path else "", d.hint, d.render())
            for d in ordered]


def element_names(comic: Comic) -> dict[str, str]:
    """Element id -> the name an author gave it (or the id)."""
    return {k: (e.name or k) for k, e in comic.elements.items()}
