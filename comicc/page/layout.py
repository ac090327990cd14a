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
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

import comicc
from comicc.manifest.diagnostics import AuthorError, Diagnostic, KeyPath, did_you_mean
from comicc.manifest.models import Comic, parse_length
from comicc.page.geometry import EDGES, Rect, border_edges

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TEMPLATE_SUFFIX = ".toml.j2"
# Frames may touch or share an edge within this slack (points); rendering rounds.
TOLERANCE = 0.5
# Smallest frame side a template may produce (points): anything less is a template bug.
MIN_FRAME_SIDE = 9.0


@dataclass(frozen=True)
class LayoutInfo:
    """What the manifest validator needs to know about one layout template."""

    name: str
    capacity: int
    min_panels: int
    mirror_rtl: bool
    path: Path
    builtin: bool


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


def builtin_layout_dir() -> Path:
    return Path(comicc.__file__).parent / "templates" / "layouts"


def layout_dirs(project_dir: Path | None) -> list[Path]:
    """Where templates are looked up, in order: the project's own folder wins."""
    dirs = [builtin_layout_dir()]
    if project_dir is not None:
        dirs.insert(0, project_dir / "templates" / "layouts")
    return dirs


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


def _template_paths(project_dir: Path | None) -> dict[str, tuple[Path, bool]]:
    """Template files by name, project templates replacing built-in ones of the same name."""
    found: dict[str, tuple[Path, bool]] = {}
    for folder in reversed(layout_dirs(project_dir)):
        if folder.is_dir():
            builtin = folder == builtin_layout_dir()
            for path in sorted(folder.glob(f"*{TEMPLATE_SUFFIX}")):
                found[path.name[: -len(TEMPLATE_SUFFIX)]] = (path, builtin)
    return dict(sorted(found.items()))


def available_layouts(project_dir: Path | None) -> dict[str, LayoutInfo]:
    """Every layout a project can name, project templates overriding built-in ones of the same name.

    Raises AuthorError naming the template file when a template cannot be read.
    """
    return {
        name: _read_info(name, path, builtin)
        for name, (path, builtin) in _template_paths(project_dir).items()
    }


def find_layout(name: str, project_dir: Path | None, key_path: KeyPath = ()) -> LayoutInfo:
    """The template called `name`, or an AuthorError with a did-you-mean."""
    paths = _template_paths(project_dir)
    if name not in paths:
        raise AuthorError(
            Diagnostic(
                "error",
                f'unknown layout "{name}"',
                key_path=key_path,
                hint=did_you_mean(name, paths) or "available layouts: " + ", ".join(paths),
                code="layout",
            )
        )
    path, builtin = paths[name]
    return _read_info(name, path, builtin)


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


# A layout needs small numbers and short strings; anything bigger is a template gone wrong.
MAX_REPEAT = 100_000


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, plus a bound on `*` and `**` so a template cannot ask for gigabytes."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: object, operator: str, left: object, right: object) -> object:
        if operator == "*" and (isinstance(left, (str, list, tuple)) or
                                isinstance(right, (str, list, tuple))):
            count = right if isinstance(left, (str, list, tuple)) else left
            size = len(left if isinstance(left, (str, list, tuple)) else right)  # type: ignore[arg-type]
            if isinstance(count, int) and count * size > MAX_REPEAT:
                raise jinja2.exceptions.SecurityError("a repeated string or list is too long")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise jinja2.exceptions.SecurityError("an exponent is too large")
        return super().call_binop(context, operator, left, right)  # type: ignore[arg-type]


def _environment() -> ImmutableSandboxedEnvironment:
    # StrictUndefined: a misspelt variable is an error, not a silent empty string.
    env = _BoundedSandbox(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.globals.update(min=min, max=max, floor=math.floor, ceil=math.ceil)
    return env


def _template_error(path: Path, message: str, line: int | None = None, hint: str | None = None):
    return AuthorError(Diagnostic("error", message, file=path, line=line, hint=hint, code="layout"))


def _unsafe_names(tree: nodes.Template) -> list[tuple[str, int]]:
    """Underscore attributes a template reaches for, found before it runs (even unused ones)."""
    found = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name: object
        if isinstance(node, nodes.Getattr):
            name = node.attr
        else:
            name = getattr(node.arg, "value", None) if isinstance(node, nodes.Getitem) else None
        if isinstance(name, str) and name.startswith("_"):
            found.append((name, node.lineno))
    return found


def _parse(path: Path) -> tuple[str, nodes.Template]:
    """Read and parse a template, refusing sandbox escapes before anything runs."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _template_error(path, f"cannot read layout template: {exc}") from None
    try:
        tree = _environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise _template_error(path, f"template syntax error: {exc.message}", exc.lineno) from None
    unsafe = _unsafe_names(tree)
    if unsafe:
        name, line = unsafe[0]
        raise _template_error(
            path,
            f'layout template reaches for "{name}", which the template sandbox refuses',
            line,
            hint="templates may only do arithmetic on the page measurements they are given",
        )
    return source, tree


def _render(path: Path, context: dict[str, object]) -> dict[str, object]:
    """Render a template in the sandbox and parse its TOML; every failure names the file."""
    source, _ = _parse(path)
    try:
        text = _environment().from_string(source).render(context)
    except jinja2.exceptions.SecurityError as exc:
        raise _template_error(
            path, f"layout template refused by the sandbox: {exc}", _jinja_line(exc)
        ) from None
    except jinja2.UndefinedError as exc:
        raise _template_error(
            path,
            f"layout template uses an unknown name: {exc.message}",
            _jinja_line(exc),
            hint="available: " + ", ".join(sorted(context)),
        ) from None
    except (jinja2.TemplateError, ArithmeticError, TypeError, ValueError, MemoryError) as exc:
        raise _template_error(path, f"layout template failed: {exc}", _jinja_line(exc)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _template_error(
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


def _static_header(tree: nodes.Template) -> str:
    """The template's opening plain-TOML lines: text before the first jinja tag and first table."""
    text = ""
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            break
        prefix = []
        for child in node.nodes:
            if not isinstance(child, nodes.TemplateData):
                break
            prefix.append(child.data)
        text += "".join(prefix)
        if len(prefix) < len(node.nodes):
            break
    lines = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("[") or not line.endswith("\n"):
            break
        lines.append(line)
    return "".join(lines)


def _read_info(name: str, path: Path, builtin: bool) -> LayoutInfo:
    """Read a template's header (capacity, min_panels, mirror_rtl) without rendering it."""
    _, tree = _parse(path)
    try:
        data = tomllib.loads(_static_header(tree))
    except tomllib.TOMLDecodeError as exc:
        raise _template_error(path, f"layout template header is not valid TOML: {exc}") from None
    capacity = data.get("capacity")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        raise _template_error(
            path,
            "layout template must start with `capacity = N` (a whole number >= 1)",
            hint="put capacity, min_panels and mirror_rtl before any {% %} tag or [[frame]]",
        )
    min_panels = data.get("min_panels", capacity)
    if not isinstance(min_panels, int) or not 1 <= min_panels <= capacity:
        raise _template_error(
            path, f"`min_panels` must be a whole number from 1 to capacity ({capacity})"
        )
    mirror = data.get("mirror_rtl", True)
    if not isinstance(mirror, bool):
        raise _template_error(path, "`mirror_rtl` must be true or false")
    return LayoutInfo(name, capacity, min_panels, mirror, path, builtin)


def _number(value: object, path: Path, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _template_error(path, f"{what} must be a finite number, got {value!r}")
    return float(value)


def _frames_from(
    data: dict[str, object], path: Path, geometry: PageGeometry, count: int, where: KeyPath
) -> list[Frame]:
    """Turn rendered TOML into frames on the page and check they make a printable page."""
    raw = data.get("frame", [])
    if not isinstance(raw, list) or len(raw) != count:
        got = len(raw) if isinstance(raw, list) else 0
        raise _template_error(path, f"layout template produced {got} frames for {count} panels")
    area = geometry.panel_area
    frames: list[Frame] = []
    for number, spec in enumerate(raw, start=1):
        if not isinstance(spec, dict):
            raise _template_error(path, f"frame {number} must be a table with x, y, w, h")
        unknown = sorted(set(spec) - {"x", "y", "w", "h", "bleed"})
        if unknown:
            raise _template_error(path, f"frame {number} has unknown keys: {', '.join(unknown)}")
        x, y, w, h = (_number(spec.get(k), path, f"frame {number} {k}") for k in "xywh")
        if w < MIN_FRAME_SIDE or h < MIN_FRAME_SIDE:
            raise _template_error(
                path,
                f"frame {number} is {w:.1f} x {h:.1f} pt: too small to hold a panel",
                hint="check the arithmetic for this panel count; the gutter may exceed the space",
            )
        rect = Rect(area.x + x, area.y + y, w, h)
        if not geometry.trim.contains(rect, TOLERANCE):
            raise _template_error(
                path,
                f"frame {number} ({x:.1f}, {y:.1f}, {w:.1f} x {h:.1f} pt) lies off the page "
                f"(panel area {area.w:.1f} x {area.h:.1f} pt)",
            )
        edges = _bleed_edges(spec.get("bleed", False), rect, area, path, number)
        frames.append(Frame(_extend_into_bleed(rect, edges, geometry), edges))
    for i, a in enumerate(frames):
        for j in range(i + 1, len(frames)):
            if a.rect.overlap_area(frames[j].rect) > TOLERANCE * TOLERANCE * 4:
                raise _template_error(path, f"frames {i + 1} and {j + 1} overlap")
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
        raise _template_error(path, f"frame {number} bleed must be true, false or a list of edges")
    for edge in value:
        if edge not in EDGES:
            raise _template_error(
                path, f'frame {number} bleed edge "{edge}" is not one of {", ".join(EDGES)}'
            )
        if not on_border[edge]:
            raise _template_error(
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
