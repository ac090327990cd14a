"""Loss curves as inline SVG: one small chart per loss term, drawn without any JS library.

The chart is computed here as numbers (a polyline's points and its axis labels); the
report template turns it into `<svg>` markup.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CHART_WIDTH = 300
CHART_HEIGHT = 120
# Room for the axis labels around the plotting area.
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 52, 8, 10, 20
# A positive series spanning more than this ratio is drawn on a log scale.
LOG_RATIO = 100.0
# History keys that are bookkeeping, not loss terms.
NOT_TERMS = ("step", "seconds")


@dataclass(frozen=True)
class LineChart:
    """One loss term over the optimisation steps, scaled into a CHART_WIDTH x CHART_HEIGHT box."""

    name: str
    points: str  # SVG polyline points, "x,y x,y ..."
    first: float
    last: float
    low: float
    high: float
    first_step: int
    last_step: int
    log: bool = False
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT

    @property
    def plot_left(self) -> int:
        return PAD_LEFT

    @property
    def plot_right(self) -> int:
        return self.width - PAD_RIGHT

    @property
    def plot_top(self) -> int:
        return PAD_TOP

    @property
    def plot_bottom(self) -> int:
        return self.height - PAD_BOTTOM


def loss_terms(history: Sequence[Mapping[str, float]]) -> list[str]:
    """The loss terms logged in `history`: "total" first, then the others in logged order."""
    names: list[str] = []
    for entry in history:
        for name in entry:
            if name not in NOT_TERMS and name not in names:
                names.append(name)
    return sorted(names, key=lambda n: n != "total")


def line_chart(name: str, steps: Sequence[int], values: Sequence[float]) -> LineChart | None:
    """Scale one series into a chart; None when it has no finite value to draw."""
    pairs = [(s, v) for s, v in zip(steps, values, strict=True)
             if v is not None and math.isfinite(v)]
    if not pairs:
        return None
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    low, high = min(ys), max(ys)
    # A loss that falls by orders of magnitude would be a flat line after its first steps.
    log = low > 0 and high / low > LOG_RATIO
    scale = math.log10 if log else float
    x0, x1 = min(xs), max(xs)
    width = CHART_WIDTH - PAD_LEFT - PAD_RIGHT
    height = CHART_HEIGHT - PAD_TOP - PAD_BOTTOM

    def x_of(step: float) -> float:
        return PAD_LEFT + (width * (step - x0) / (x1 - x0) if x1 > x0 else width / 2)

    def y_of(value: float) -> float:
        # A constant series sits mid-height rather than dividing by zero.
        fraction = ((scale(value) - scale(low)) / (scale(high) - scale(low))
                    if high > low else 0.5)
        return PAD_TOP + height * (1 - fraction)

    points = " ".join(f"{x_of(s):.1f},{y_of(v):.1f}" for s, v in pairs)
    return LineChart(name=name, points=points, first=ys[0], last=ys[-1], low=low, high=high,
                     first_step=int(x0), last_step=int(x1), log=log)


def loss_charts(history: Sequence[Mapping[str, float]]) -> list[LineChart]:
    """One chart per loss term in a style fit's history (`[{step, total, seconds, term...}]`)."""
    steps = [int(entry.get("step", index)) for index, entry in enumerate(history)]
    charts = []
    for name in loss_terms(history):
        chart = line_chart(name, steps, [entry.get(name) for entry in history])  # type: ignore[misc]
        if chart is not None:
            charts.append(chart)
    return charts
