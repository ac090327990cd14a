"""Layout templates: jinja2-rendered TOML that turns a page's panel count into panel frames.

A template lives in `templates/layouts/<name>.toml.j2` (the project's own folder first, then
the built-in ones). It is rendered in a sandbox with the page's measurements and must
produce TOML such as::

    capacity = 4          # most panels the layout holds
    min_panels = 1        # fewest it knows how to arrange (default: capacity)
    mirror_rtl = true     # mirror for right-to-left books (default: true)

    [[frame]]             # one per panel, in reading order, relative to the panel area
    x = 0.0
    y = 0.0
    w = 200.0
    h = 300.0
    bleed = false         # true, or a list of edges: ["left", "top"]

Variables a template sees: `n` (panels on the page), `width`/`height` (the panel area: the
trim less the outer margin), `gutter`, `margin`, `bleed`, `trim_width`, `trim_height`,
`reading` ("ltr"/"rtl"); all lengths are in points.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import jinja2

from comicc.manifest.diagnostics import AuthorError, Diagnostic, KeyPath
from comicc.manifest.layouts import (
    compiled_template,
    find_layout,
    parse_template,
    template_error,
)
from comicc.manifest.models import Comic, parse_length
from comicc.page.geometry import EDGES, Rect, border_edges

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Frames may touch or share an edge within this slack (points); rendering rounds.
TOLERANCE = 0.5
# Smallest frame side a template may produce (points): anything less is a template bug.
MIN_FRAME_SIDE = 9.0


@dataclass(frozen=True)
class PageGeometry:
    """A page's measurements in points, from `[comic]`, `[layout]` and the page's overrides."""

    trim_width: float
    trim_height: float
    bleed: float
    safe_margin: float
    margin: float
    gutter: float
    reading: str

    @property
    def trim(self) -> Rect:
        return Rect(0.0, 0.0, self.trim_width, self.trim_height)

    @property
    def media(self) -> Rect:
        """Trim plus bleed on every side: the printed sheet before cutting."""
        return self.trim.inset(-self.bleed)

    @property
    def panel_area(self) -> Rect:
        return self.trim.inset(self.margin)

    @property
    def live_area(self) -> Rect:
        """Inside the safe margin: where lettering stays, whatever the trimming error."""
        return self.trim.inset(self.safe_margin)


@dataclass(frozen=True)
class Frame:
    """One panel's frame on the page: where its art goes and which edges run off into the bleed."""

    rect: Rect
    bleed_edges: tuple[str, ...] = ()

    @property
    def border_edges(self) -> tuple[str, ...]:
        return border_edges(self.bleed_edges)


def page_geometry(comic: Comic, page_index: int) -> PageGeometry:
    """Measurements of page `page_index`: per-page gutter/margin override `[layout]`."""
    page = comic.page[page_index]
    trim_width, trim_height = comic.comic.trim_points()
    gutter = page.gutter if page.gutter is not None else comic.layout.gutter
    margin = page.margin if page.margin is not None else comic.layout.margin
    return PageGeometry(
        trim_width=trim_width,
        trim_height=trim_height,
        bleed=comic.comic.bleed_points(),
        safe_margin=comic.comic.safe_margin_points(),
        margin=parse_length(margin),
        gutter=parse_length(gutter),
        reading=comic.comic.reading,
    )


def layout_frames(comic: Comic, page_index: int, project_dir: Path | None) -> list[Frame]:
    """Panel frames for page `page_index` in page coordinates, one per panel, in reading order.

    rtl books get the frames mirrored left-right unless the template sets `mirror_rtl = false`;
    panels keep their order, so they read right to left.
    """
    page = comic.page[page_index]
    where: KeyPath = ("page", page_index, "layout")
    info = find_layout(page.layout, project_dir, where)
    count = len(page.panel)
    if not info.min_panels <= count <= info.capacity:
        wanted = (
            f"exactly {info.capacity}"
            if info.min_panels == info.capacity
            else f"{info.min_panels} to {info.capacity}"
        )
        raise AuthorError(
            Diagnostic(
                "error",
                f'page has {count} panels but layout "{info.name}" holds {wanted}',
                key_path=where,
                hint="pick a layout that holds this many panels, or split the page",
                code="layout",
            )
        )
    geometry = page_geometry(comic, page_index)
    data = _render(info.path, _context(geometry, count))
    frames = _frames_from(data, info.path, geometry, count, where)
    if geometry.reading == "rtl" and info.mirror_rtl:
        frames = [_mirror(frame, geometry.trim_width) for frame in frames]
    return frames


def _context(geometry: PageGeometry, count: int) -> dict[str, object]:
    area = geometry.panel_area
    return {
        "n": count,
        "width": area.w,
        "height": area.h,
        "gutter": geometry.gutter,
        "margin": geometry.margin,
        "bleed": geometry.bleed,
        "trim_width": geometry.trim_width,
        "trim_height": geometry.trim_height,
        "reading": geometry.reading,
    }


def _render(path: Path, context: dict[str, object]) -> dict[str, object]:
    """Render a template in the sandbox and parse its TOML; every failure names the file."""
    source, _ = parse_template(path)
    try:
        text = compiled_template(source).render(context)
    except jinja2.exceptions.SecurityError as exc:
        raise template_error(
            path, f"layout template refused by the sandbox: {exc}", _jinja_line(exc)
        ) from None
    except jinja2.UndefinedError as exc:
        raise template_error(
            path,
            f"layout template uses an unknown name: {exc.message}",
            _jinja_line(exc),
            hint="available: " + ", ".join(sorted(context)),
        ) from None
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, MemoryError) as exc:
        raise template_error(path, f"layout template failed: {exc}", _jinja_line(exc)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise template_error(
            path,
            f"layout template did not render to valid TOML: {exc}",
            hint="the line and column refer to the rendered output, not the template",
        ) from None


def _jinja_line(exc: BaseException) -> int | None:
    # Jinja rewrites tracebacks so the template's own line appears with filename "<template>".
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _number(value: object, path: Path, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise template_error(path, f"{what} must be a finite number, got {value!r}")
    return float(value)


def _frames_from(
    data: dict[str, object], path: Path, geometry: PageGeometry, count: int, where: KeyPath
) -> list[Frame]:
    """Turn rendered TOML into frames on the page and check they make a printable page."""
    raw = data.get("frame", [])
    if not isinstance(raw, list) or len(raw) != count:
        got = len(raw) if isinstance(raw, list) else 0
        raise template_error(path, f"layout template produced {got} frames for {count} panels")
    area = geometry.panel_area
    frames: list[Frame] = []
    for number, spec in enumerate(raw, start=1):
        if not isinstance(spec, dict):
            raise template_error(path, f"frame {number} must be a table with x, y, w, h")
        unknown = sorted(set(spec) - {"x", "y", "w", "h", "bleed"})
        if unknown:
            raise template_error(path, f"frame {number} has unknown keys: {', '.join(unknown)}")
        x, y, w, h = (_number(spec.get(k), path, f"frame {number} {k}") for k in "xywh")
        if w < MIN_FRAME_SIDE or h < MIN_FRAME_SIDE:
            raise template_error(
                path,
                f"frame {number} is {w:.1f} x {h:.1f} pt: too small to hold a panel",
                hint="check the arithmetic for this panel count; the gutter may exceed the space",
            )
        rect = Rect(area.x + x, area.y + y, w, h)
        if not geometry.trim.contains(rect, TOLERANCE):
            raise template_error(
                path,
                f"frame {number} ({x:.1f}, {y:.1f}, {w:.1f} x {h:.1f} pt) lies off the page "
                f"(panel area {area.w:.1f} x {area.h:.1f} pt)",
            )
        edges = _bleed_edges(spec.get("bleed", False), rect, area, path, number)
        frames.append(Frame(_extend_into_bleed(rect, edges, geometry), edges))
    for i, a in enumerate(frames):
        for j in range(i + 1, len(frames)):
            if a.rect.overlap_area(frames[j].rect) > TOLERANCE * TOLERANCE * 4:
                raise template_error(path, f"frames {i + 1} and {j + 1} overlap")
    return frames


def _bleed_edges(value: object, rect: Rect, area: Rect, path: Path, number: int) -> tuple[str, ...]:
    """Edges to extend into the bleed: `true` means every edge on the panel area's border."""
    on_border = {
        "left": abs(rect.x - area.x) <= TOLERANCE,
        "top": abs(rect.y - area.y) <= TOLERANCE,
        "right": abs(rect.right - area.right) <= TOLERANCE,
        "bottom": abs(rect.bottom - area.bottom) <= TOLERANCE,
    }
    if value is False:
        return ()
    if value is True:
        return tuple(edge for edge in EDGES if on_border[edge])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise template_error(path, f"frame {number} bleed must be true, false or a list of edges")
    for edge in value:
        if edge not in EDGES:
            raise template_error(
                path, f'frame {number} bleed edge "{edge}" is not one of {", ".join(EDGES)}'
            )
        if not on_border[edge]:
            raise template_error(
                path,
                f"frame {number} bleeds {edge} but does not touch the panel area's {edge} edge",
            )
    return tuple(edge for edge in EDGES if edge in value)


def _extend_into_bleed(rect: Rect, edges: tuple[str, ...], geometry: PageGeometry) -> Rect:
    media = geometry.media
    left = media.x if "left" in edges else rect.x
    top = media.y if "top" in edges else rect.y
    right = media.right if "right" in edges else rect.right
    bottom = media.bottom if "bottom" in edges else rect.bottom
    return Rect(left, top, right - left, bottom - top)


def _mirror(frame: Frame, page_width: float) -> Frame:
    swap = {"left": "right", "right": "left"}
    edges = tuple(edge for edge in EDGES if edge in {swap.get(e, e) for e in frame.bleed_edges})
    return Frame(frame.rect.mirrored(page_width), edges)
