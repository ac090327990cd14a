"""Lettering: fitting, wrapping, placement, tails, fallbacks and overflow warnings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from comicc.manifest.diagnostics import DiagnosticSink
from comicc.manifest.models import Panel
from comicc.page import fonts
from comicc.page.art import cover_crop
from comicc.page.geometry import Rect
from comicc.page.letter import STYLES, PanelArt, letter_panel, words_of, wrap
from comicc.page.plan import plan_page

from .conftest import make_comic

FRAME = Rect(27, 27, 207, 338)
LIVE = Rect(18, 18, 441, 702)


def letter(
    balloons: list[dict],
    reading: str = "ltr",
    regions: dict | None = None,
    frame: Rect = FRAME,
    art_size: tuple[int, int] = (600, 800),
):
    panel = Panel.model_validate({"art": "a.png", "balloons": balloons, "regions": regions or {}})
    art = PanelArt(0, frame, cover_crop(art_size, frame), art_size)
    sink = DiagnosticSink()
    return letter_panel(art, panel, LIVE, reading, ("page", 0, "panel", 0), sink), sink


def test_wrap_breaks_at_the_width_and_keeps_every_word() -> None:
    text = "The lamp can wait a minute, you cannot wait at all tonight"
    paragraphs, missing = words_of(text, "regular")
    lines = wrap(paragraphs, 9.0, 80.0, "regular")
    assert not missing
    assert len(lines) > 2
    assert all(line.width <= 80.0 + 1e-6 for line in lines)
    assert " ".join("".join(r.text for r in line.runs) for line in lines) == text


def test_explicit_newlines_and_overlong_words() -> None:
    paragraphs, _ = words_of("Hi\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "regular")
    lines = wrap(paragraphs, 9.0, 40.0, "regular")
    assert "".join(r.text for r in lines[0].runs) == "Hi"
    assert len(lines) > 2 and all(line.width <= 40.0 + 1e-6 for line in lines)


def test_balloons_stay_in_the_frame_and_do_not_overlap() -> None:
    plans, sink = letter(
        [
            {"kind": "caption", "text": "Ninety miles from shore."},
            {"text": "Is anyone up there? Hello? Hello?"},
            {"kind": "shout", "text": "FATHOM!"},
            {"kind": "thought", "text": "Not coming out."},
            {"kind": "whisper", "text": "psst"},
        ]
    )
    assert not sink.items
    boxes = [p.box for p in plans]
    for i, a in enumerate(boxes):
        assert FRAME.contains(a)
        for b in boxes[i + 1 :]:
            assert a.overlap_area(b) == 0
    # Reading order: each balloon starts below or beside the one before it.
    for before, after in zip(boxes[1:], boxes[2:], strict=False):
        assert after.y >= before.y - 0.5 * before.h or after.x >= before.right


def test_caption_goes_top_left_in_ltr_and_top_right_in_rtl() -> None:
    (ltr,), _ = letter([{"kind": "caption", "text": "Meanwhile..."}])
    (rtl,), _ = letter([{"kind": "caption", "text": "Meanwhile..."}], reading="rtl")
    assert ltr.box.x == pytest.approx(FRAME.x + 4)
    assert rtl.box.right == pytest.approx(FRAME.right - 4)
    assert ltr.box.y == rtl.box.y == pytest.approx(FRAME.y + 4)


def test_tail_points_at_the_speakers_region() -> None:
    (plan,), _ = letter(
        [{"speaker": "mara", "text": "Over here!"}], regions={"mara": [0.6, 0.5, 0.3, 0.45]}
    )
    cx, cy = plan.box.centre
    tip = max(plan.outline, key=lambda p: math.hypot(p[0] - cx, p[1] - cy))
    # The region in page coordinates: the art is 600x800 in a 207x338 frame (cropped sideways).
    crop = cover_crop((600, 800), FRAME)
    head_x = FRAME.x + (0.75 * 600 - crop.left) / crop.width * FRAME.w
    head_y = FRAME.y + (0.5 + 0.2 * 0.45) * 800 / crop.height * FRAME.h
    assert math.hypot(tip[0] - head_x, tip[1] - head_y) < 12
    assert plan.box.bottom < head_y  # balloon above the speaker's head


def test_tail_hint_and_none() -> None:
    (left,), _ = letter([{"text": "Who's there?", "tail": "left"}])
    cx, cy = left.box.centre
    tip = max(left.outline, key=lambda p: math.hypot(p[0] - cx, p[1] - cy))
    assert tip[0] < left.box.x
    (bare,), _ = letter([{"text": "Who's there?", "tail": "none"}])
    assert all(bare.box.inset(-0.01).contains(Rect(x, y, 0, 0)) for x, y in bare.outline)


def test_at_hint_moves_the_balloon() -> None:
    (plan,), _ = letter([{"text": "Down here", "at": [0.5, 0.85]}])
    assert plan.box.centre[1] > FRAME.y + 0.7 * FRAME.h


def test_thought_has_a_trail_and_sfx_is_rotated_without_outline() -> None:
    (thought, sfx), _ = letter(
        [{"kind": "thought", "text": "Hmm."}, {"kind": "sfx", "text": "BOOM"}]
    )
    assert len(thought.bubbles) == 3
    assert sfx.outline == () and sfx.angle != 0
    assert sfx.text_colour != "#000000" and sfx.lines[0].size > STYLES["speech"].max_size


def test_text_overflow_warns_and_shows_what_fits() -> None:
    text = " ".join(["much too much text for one small panel"] * 40)
    small = Rect(27, 27, 120, 90)
    (plan,), sink = letter([{"text": text}], frame=small)
    warnings = [d for d in sink.warnings if d.code == "lettering"]
    assert len(warnings) == 1
    assert warnings[0].key_path == ("page", 0, "panel", 0, "balloons", 0)
    assert "left out" in warnings[0].message
    assert plan.lines and plan.lines[-1].text.endswith("…")
    assert plan.lines[0].size == STYLES["speech"].min_size


def test_fallback_font_letters_greek_and_cyrillic() -> None:
    (plan,), sink = letter([{"text": "Καλημέρα, Мара!"}])
    assert not sink.items
    used = {run.font for line in plan.lines for run in line.runs}
    assert "DejaVuSans" in used and "ComicNeue" in used
    assert "Καλημέρα" in plan.text and "Мара" in plan.text


def test_characters_no_font_has_are_named_in_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "_system_font_for", lambda char: None)
    (plan,), sink = letter([{"text": "Hello 世界"}])
    (warning,) = sink.warnings
    assert warning.code == "font" and "U+4E16" in warning.message and "U+754C" in warning.message
    assert warning.key_path == ("page", 0, "panel", 0, "balloons", 0)
    assert plan.text == "Hello"


def test_plan_page_round_trips_through_json(tmp_path: Path, lettered) -> None:
    from comicc.page.pageplan import PagePlan

    sink = DiagnosticSink()
    plan = plan_page(lettered, 0, tmp_path, [(90, 120)] * 4, sink)
    assert len(plan.frames) == 4 and len(plan.balloons) == 6
    assert PagePlan.from_json(plan.to_json()) == plan
    import json

    assert PagePlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_plan_page_warns_about_low_resolution(tmp_path: Path) -> None:
    comic = make_comic(tmp_path, [{"layout": "splash", "panel": [{}]}], dpi=300)
    sink = DiagnosticSink()
    plan_page(comic, 0, tmp_path, [(90, 120)], sink)
    (warning,) = sink.warnings
    assert warning.code == "resolution" and warning.key_path == ("page", 0, "panel", 0)


def test_system_font_letters_cjk_when_fontconfig_has_one() -> None:
    key = fonts._system_font_for("世")
    if key is None:
        pytest.skip("no TrueType CJK font installed (e.g. Debian fonts-noto-cjk, as .ci/run installs)")
    (plan,), sink = letter([{"text": "Hello 世界"}])
    assert not sink.items
    assert plan.text == "Hello 世界"
    assert key in {run.font for line in plan.lines for run in line.runs}
