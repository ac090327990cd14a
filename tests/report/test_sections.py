"""The report's numbers: disagreements, matrix mapping, stage totals, loss charts, crops."""

from __future__ import annotations

import pytest

from comicc.engine.engine import StageReport
from comicc.manifest.models import Comic
from comicc.report.charts import CHART_HEIGHT, CHART_WIDTH, PAD_TOP, loss_charts, loss_terms
from comicc.report.pictures import CropSpec, crop_fraction, element_crops
from comicc.report.sections import disagrees, matrix_section, panel_anchor, stage_lines


@pytest.mark.parametrize(("target", "p", "expected"), [
    (1, 0.49, True), (1, 0.5, False), (1, 0.9, False),
    (0, 0.51, True), (0, 0.5, False), (0, 0.1, False), (1, None, False),
])
def test_disagreement_is_the_wrong_side_of_one_half(target: int, p: float | None,
                                                     expected: bool) -> None:
    assert disagrees(target, p) is expected


def test_matrix_maps_probabilities_by_name_not_position() -> None:
    matrix = {"elements": ["a", "b"], "panels": ["1.1", "1.2"], "matrix": [[1, 0], [0, 1]]}
    style = {"elements": ["b", "a"], "panels": ["1.1", "1.2"],
             "raw_probabilities": [[0.1, 0.8], [0.7, 0.2]],
             "styled_probabilities": [[0.6, 0.9], [0.4, 0.3]]}
    section = matrix_section(matrix, style)
    assert section.probabilities("raw") == [[0.7, 0.2], [0.1, 0.8]]
    assert section.probabilities("styled") == [[0.4, 0.3], [0.6, 0.9]]
    assert [(c.element, c.panel) for c in section.disagreements("styled")] == [
        ("a", "1.1"), ("b", "1.1")]
    assert section.agreeing("raw") == 4 and section.agreeing("styled") == 2
    bare = matrix_section(matrix, None)
    assert not bare.has_probabilities and bare.probabilities("styled") is None
    assert bare.targets() == [[1, 0], [0, 1]] and bare.disagreements("styled") == []


def test_panel_anchor_is_a_valid_id() -> None:
    assert panel_anchor("12.3") == "panel-12-3"


def test_stage_totals_count_ran_and_reused_per_stage() -> None:
    reports = [StageReport("page", "page 1", "ran", ["first build"], 0.5),
               StageReport("page", "page 2", "reused"),
               StageReport("page", "page 3", "ran", ["balloon text on page 3 changed"], 0.25),
               StageReport("pdf", "pdf", "ran", [], 1.0)]
    lines, totals = stage_lines(reports)
    assert [(t.stage, t.ran, t.reused, t.seconds) for t in totals] == [
        ("page", 2, 1, 0.75), ("pdf", 1, 0, 1.0)]
    assert lines[2].reasons == ["balloon text on page 3 changed"]


def test_loss_charts_one_per_term_inside_the_box() -> None:
    history = [{"step": s, "seconds": 0.1, "style": 10.0 / (s + 1), "total": 11.0 / (s + 1),
                "tv": 2.0, "clip": float("nan") if s == 3 else 1.0 + s} for s in range(10)]
    assert loss_terms(history) == ["total", "style", "tv", "clip"]
    charts = {c.name: c for c in loss_charts(history)}
    assert list(charts) == ["total", "style", "tv", "clip"]
    for chart in charts.values():
        xs, ys = zip(*(map(float, p.split(",")) for p in chart.points.split()), strict=True)
        assert min(xs) >= chart.plot_left and max(xs) <= chart.plot_right <= CHART_WIDTH
        assert min(ys) >= PAD_TOP and max(ys) <= chart.plot_bottom <= CHART_HEIGHT
    style = charts["style"]
    assert (style.first, style.last, style.high, style.low) == (10.0, 1.0, 10.0, 1.0)
    first_y = float(style.points.split()[0].split(",")[1])
    assert first_y == pytest.approx(style.plot_top)  # the highest loss at the top
    assert len(charts["clip"].points.split()) == 9  # the NaN step is left out
    flat = {float(p.split(",")[1]) for p in charts["tv"].points.split()}
    assert len(flat) == 1  # a constant term is a level line, not a division by zero
    assert loss_charts([]) == []


def test_element_crops_use_regions_else_the_whole_panel() -> None:
    comic = Comic.model_validate({
        "comic": {"title": "t"},
        "elements": {"a": {"kind": "character", "references": ["a.png"]},
                     "b": {"kind": "prop", "references": ["b.png"]}},
        "page": [{"layout": "grid-2x2", "panel": [
            {"art": "1.png", "elements": ["a", "b"], "regions": {"a": [0.5, 0.0, 0.5, 1.0]}},
            {"art": "2.png", "elements": ["b"]}]}]})
    crops = element_crops(comic)
    assert crops["a"] == [CropSpec(0, "1.1", (0.5, 0.0, 0.5, 1.0))]
    assert crops["b"] == [CropSpec(0, "1.1", None), CropSpec(1, "1.2", None)]


def test_crop_fraction_cuts_the_box() -> None:
    from PIL import Image

    image = Image.new("RGB", (200, 100))
    assert crop_fraction(image, (0.5, 0.0, 0.5, 1.0)).size == (100, 100)
    assert crop_fraction(image, (0.0, 0.0, 0.001, 0.001)).size == (1, 1)
    assert crop_fraction(image, None) is image


def test_a_loss_falling_by_orders_of_magnitude_is_drawn_on_a_log_scale() -> None:
    history = [{"step": s, "total": 10.0 ** (3 - s)} for s in range(5)]
    [chart] = loss_charts(history)
    assert chart.log
    ys = [float(p.split(",")[1]) for p in chart.points.split()]
    steps = [b - a for a, b in zip(ys, ys[1:], strict=False)]
    assert all(d == pytest.approx(steps[0]) for d in steps)  # equal steps per decade
    [linear] = loss_charts([{"step": s, "total": 5.0 - s} for s in range(5)])
    assert not linear.log
