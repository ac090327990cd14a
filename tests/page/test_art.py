"""Cover crops, focus points and the resolution warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from comicc.manifest.models import Panel
from comicc.page.art import (
    cover_crop,
    effective_dpi,
    print_size,
    region_to_page,
    resolution_warning,
)
from comicc.page.geometry import Rect
from comicc.page.plan import panel_focus


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


def test_a_panel_without_focus_frames_its_elements_regions() -> None:
    """A frame narrower than the art keeps the elements drawn off-centre in view (the
    lighthouse sample's 1.2 has Mara at x 0.52-0.93 of its 3:4 art, and the centred crop of
    its frame ended at x 0.91)."""
    art, frame = (1170, 1560), Rect(0, 0, 60, 100)
    mara = [0.55, 0.3, 0.43, 0.6]
    panel = Panel(art="a.png", elements=["mara", "cat"],
                  regions={"mara": mara, "cat": [0.7, 0.7, 0.2, 0.2]})
    assert panel_focus(panel) == pytest.approx((0.765, 0.6))
    centred = cover_crop(art, frame)
    assert centred.right < (mara[0] + mara[2]) * art[0]  # the old crop cut her
    crop = cover_crop(art, frame, panel_focus(panel))
    assert crop.left <= mara[0] * art[0] and (mara[0] + mara[2]) * art[0] <= crop.right
    assert crop.right == art[0]  # slid as far as the art allows, no further
    # The author's focus wins; a panel with neither is centred.
    assert panel_focus(panel.model_copy(update={"focus": [0.2, 0.5]})) == (0.2, 0.5)
    assert panel_focus(Panel(art="a.png")) is None


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


@pytest.mark.parametrize("dpi", [150, 300, 600])
@pytest.mark.parametrize("frame", [Rect(0, 0, 207, 338), Rect(0, 0, 423, 304), Rect(9, 9, 144, 72)])
def test_print_size_fills_the_frame_at_its_dpi(frame: Rect, dpi: int) -> None:
    art = (4000, 3000)  # larger than any frame needs: the frame sets the size
    size = print_size(art, frame, dpi)
    assert size[0] / size[1] == pytest.approx(art[0] / art[1], rel=1e-3)
    crop = cover_crop(size, frame)
    assert effective_dpi(crop, frame) == pytest.approx(dpi, rel=0.01)
    assert resolution_warning(crop, frame, size, dpi, ()) is None


def test_print_size_never_exceeds_the_art() -> None:
    frame = Rect(0, 0, 144, 144)  # 2 x 2 inches: 600 x 600 px at 300 DPI
    assert print_size((300, 400), frame, 300) == (300, 400)  # too small: as it is (and warned)
    assert print_size((1200, 1600), frame, 300) == (600, 800)


def test_print_sizes_follow_each_frame_of_the_sample() -> None:
    from comicc.engine.stages import panel_print_sizes
    from comicc.manifest.load import load_project
    from comicc.page.layout import layout_frames

    project = load_project(Path(__file__).resolve().parents[2] / "samples" / "lighthouse")
    sizes = panel_print_sizes(project)
    frames = [f for p in range(len(project.comic.page))
              for f in layout_frames(project.comic, p, project.root)]
    assert len(sizes) == len(frames) == len(project.comic.panels())
    for size, frame in zip(sizes, frames, strict=True):
        crop = cover_crop(size, frame.rect)
        assert effective_dpi(crop, frame.rect) == pytest.approx(300, rel=0.01)
