"""Cover crops, focus points and the resolution warning."""

from __future__ import annotations

import pytest

from comicc.page.art import cover_crop, effective_dpi, region_to_page, resolution_warning
from comicc.page.geometry import Rect


def test_cover_crop_keeps_the_frame_aspect_and_fills_it() -> None:
    frame = Rect(0, 0, 200, 100)
    crop = cover_crop((400, 400), frame)
    assert (crop.width, crop.height) == (400, 200)
    assert crop.top == 100  # centred
    tall = cover_crop((300, 900), Rect(0, 0, 100, 100))
    assert (tall.width, tall.height) == (300, 300)


def test_focus_point_stays_in_view_and_crop_stays_on_the_art() -> None:
    frame = Rect(0, 0, 100, 100)
    low = cover_crop((400, 1000), frame, focus=(0.5, 0.9))
    assert low.top <= 900 <= low.bottom
    assert low.bottom == 1000  # clamped to the art, not past it
    high = cover_crop((400, 1000), frame, focus=(0.5, 0.05))
    assert high.top == 0


def test_region_maps_through_the_crop() -> None:
    frame = Rect(10, 20, 100, 100)
    crop = cover_crop((200, 400), frame)  # keeps rows 100..300
    region = region_to_page([0.0, 0.25, 1.0, 0.5], (200, 400), crop, frame)
    assert region.x == pytest.approx(10)
    assert region.y == pytest.approx(20)
    assert region.w == pytest.approx(100)
    assert region.h == pytest.approx(100)


def test_low_resolution_warns_with_the_effective_dpi() -> None:
    frame = Rect(0, 0, 144, 144)  # 2 x 2 inches
    crop = cover_crop((300, 300), frame)
    assert effective_dpi(crop, frame) == pytest.approx(150)
    warning = resolution_warning(crop, frame, (300, 300), 300, ("page", 0, "panel", 1))
    assert warning is not None
    assert warning.key_path == ("page", 0, "panel", 1)
    assert "150 DPI" in warning.message and "300 DPI" in warning.message
    assert resolution_warning(crop, frame, (300, 300), 150, ()) is None
