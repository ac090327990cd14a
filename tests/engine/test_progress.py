"""The style stage's progress line in an ordinary 80-column terminal."""

from __future__ import annotations

import io
import re

from rich.console import Console

from comicc.engine.style_stage import style_progress
from comicc.ml.train import StepLog

TERMS = {"style": 1234.5, "content": 456.7, "consistency": 12.34, "tv": 0.5}


def progress_line(width: int, done: int = 50, total: int = 200) -> str:
    """The bar after `done` steps at two steps a second, as a terminal `width` wide shows it."""
    now = [0.0]
    console = Console(width=width, file=io.StringIO(), record=True, force_terminal=True,
                      color_system=None)
    bar, update = style_progress(total, console=console, clock=lambda: now[0])
    for step in range(done):
        now[0] += 0.5
        update(StepLog(step, 2331.4, TERMS, 0.5))
    console.print(bar.get_renderable())
    return console.export_text().rstrip("\n")


def test_bar_steps_and_time_left_fit_80_columns() -> None:
    line = progress_line(80)
    assert "\n" not in line and len(line) <= 80
    assert line.startswith("style ━")  # the bar itself, at its full width
    assert "50/200" in line
    assert "0:01:15" in line  # 150 steps left at two a second
    assert "loss 2.33e+03" in line and line.endswith("…")  # the terms give way


def test_a_wide_terminal_shows_every_loss_term() -> None:
    line = progress_line(160)
    assert re.search(r"50/200 0:01:15 loss 2\.33e\+03 style 1\.23e\+03 content 457 "
                     r"consistency 12\.3 tv 0\.5$", line), line
