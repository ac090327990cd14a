"""Planning a page: frames from its layout, cover crops of the art, and the lettering."""

from __future__ import annotations

from pathlib import Path

from comicc.manifest.diagnostics import DiagnosticSink
from comicc.manifest.models import Comic, Panel
from comicc.page.art import cover_crop, print_size, resolution_warning
from comicc.page.layout import layout_frames, page_geometry
from comicc.page.letter import LetteringOptions, PanelArt, letter_panel
from comicc.page.pageplan import BalloonPlan, FramePlan, PagePlan


def panel_focus(panel: Panel) -> tuple[float, float] | None:
    """The point of the art its frame's crop is centred on: the panel's `focus`, else the
    centre of the box around its elements' regions (so a character drawn off-centre is not
    cut away where the frame is narrower than the art), else None (the art's centre)."""
    if panel.focus:
        return (panel.focus[0], panel.focus[1])
    if not panel.regions:
        return None
    boxes = list(panel.regions.values())
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right = max(b[0] + b[2] for b in boxes)
    bottom = max(b[1] + b[3] for b in boxes)
    return ((left + right) / 2, (top + bottom) / 2)


def plan_page(
    comic: Comic,
    page_index: int,
    project_dir: Path | None,
    art_sizes: list[tuple[int, int]],
    sink: DiagnosticSink,
) -> PagePlan:
    """Plan page `page_index` for art of the given pixel sizes (one per panel, in order).

    Raises AuthorError for a layout that cannot hold the page; adds warnings (low resolution,
    text that does not fit, missing glyphs) to `sink`. The result depends only on its
    arguments and the layout template, so it can be cached per page.
    """
    page = comic.page[page_index]
    if len(art_sizes) != len(page.panel):
        raise ValueError(
            f"page {page_index + 1} has {len(page.panel)} panels, got {len(art_sizes)} art sizes"
        )
    geometry = page_geometry(comic, page_index)
    frames = layout_frames(comic, page_index, project_dir)
    options = LetteringOptions(
        language=page.language or comic.comic.language,
        writing=page.writing or comic.comic.writing,
        lettering=comic.lettering,
        project_dir=project_dir,
    )
    frame_plans: list[FramePlan] = []
    balloons: list[BalloonPlan] = []
    for j, (panel, frame, size) in enumerate(zip(page.panel, frames, art_sizes, strict=True)):
        where = ("page", page_index, "panel", j)
        crop = cover_crop(size, frame.rect, panel_focus(panel))
        warning = resolution_warning(crop, frame.rect, size, comic.comic.dpi, where)
        if warning is not None:
            sink.add(warning)
        frame_plans.append(FramePlan(frame.rect, frame.bleed_edges, crop, size))
        art = PanelArt(j, frame.rect, crop, size)
        balloons += letter_panel(art, panel, geometry.live_area, geometry.reading, where, sink,
                                 options)
    return PagePlan(
        index=page_index,
        trim_width=geometry.trim_width,
        trim_height=geometry.trim_height,
        bleed=geometry.bleed,
        safe_margin=geometry.safe_margin,
        frames=tuple(frame_plans),
        balloons=tuple(balloons),
    )


def print_sizes(
    comic: Comic, project_dir: Path | None, art_sizes: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Per panel in reading order, the pixel size its art is rendered at for print: what
    its frame needs at `[comic] dpi`, capped by the art's own size (see `print_size`)."""
    sizes: list[tuple[int, int]] = []
    start = 0
    for p, page in enumerate(comic.page):
        frames = layout_frames(comic, p, project_dir)
        for panel, frame, size in zip(page.panel, frames, art_sizes[start:], strict=False):
            sizes.append(print_size(size, frame.rect, comic.comic.dpi, panel_focus(panel)))
        start += len(page.panel)
    return sizes
