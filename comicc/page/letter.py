"""Lettering: balloons, captions and sound effects sized, wrapped, placed and given tails.

Each panel is lettered on its own: its balloons are fitted (font size and line breaks),
placed greedily in reading order where they cover neither each other nor the speakers,
and outlined as polygons (speech, whisper, shout, thought clouds, caption boxes) with a
tail pointing at the speaker. Sound effects are big rotated lettering with no balloon.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import pyphen
from pyphen import Pyphen
from uniseg.linebreak import line_break_units

from comicc.manifest.diagnostics import Diagnostic, DiagnosticSink, KeyPath
from comicc.manifest.models import Balloon, Lettering, Panel, primary_language
from comicc.page.art import Crop, region_to_page
from comicc.page.fonts import CHAINS, SYSTEM_PREFIX, Chain, Run, load_font, split_runs
from comicc.page.geometry import Point, Rect
from comicc.page.pageplan import BalloonPlan, TextLine
from comicc.page.shaping import (
    Glyph,
    column_length,
    line_width,
    paragraph_rtl,
    runs_width,
    shape_column,
    shape_line,
)

LEADING = 1.2  # line height as a multiple of the font size
SUPERELLIPSE_N = 2.6  # 2 is an ellipse; larger hugs the text block more tightly
OUTLINE_SAMPLES = 144  # points around a balloon: smooth at print size
GAP = 3.0  # clear space kept between balloons (points)
INSET = 4.0  # how far lettering stays inside the frame border (points)


@dataclass(frozen=True)
class Style:
    """How one kind of balloon looks and how its text may be sized."""

    weight: str
    max_size: float
    min_size: float
    padding: float
    fill: str | None
    stroke: str | None
    text_colour: str = "#000000"
    text_outline: str | None = None
    line_width: float = 0.8
    dashed: bool = False
    aspect: float = 1.6  # preferred width/height of the balloon
    width_share: float = 0.62  # largest share of the panel's width a balloon may take
    height_share: float = 0.45


# fmt: off
STYLES: dict[str, Style] = {
    "speech": Style(weight="regular", max_size=9.5, min_size=6.0, padding=3.0,
                    fill="#FFFFFF", stroke="#000000"),
    "whisper": Style(weight="regular", max_size=8.5, min_size=6.0, padding=3.0,
                     fill="#FFFFFF", stroke="#000000", dashed=True),
    "thought": Style(weight="regular", max_size=9.5, min_size=6.0, padding=3.0,
                     fill="#FFFFFF", stroke="#000000"),
    "shout": Style(weight="bold", max_size=11.0, min_size=7.0, padding=3.0,
                   fill="#FFFFFF", stroke="#000000", line_width=1.0),
    "caption": Style(weight="regular", max_size=9.0, min_size=6.0, padding=4.0,
                     fill="#FFF3C4", stroke="#000000", aspect=3.0, width_share=0.7,
                     height_share=0.4),
    # Sound effects: big outlined lettering straight on the art, on one line if it fits.
    "sfx": Style(weight="bold", max_size=42.0, min_size=14.0, padding=0.0, fill=None,
                 stroke=None, text_colour="#E4572E", text_outline="#2B1A12", aspect=1e9,
                 width_share=0.9, height_share=0.5),
}
# fmt: on


@dataclass(frozen=True)
class PanelArt:
    """Where a panel sits on the page and how its art was cropped into the frame."""

    index: int
    frame: Rect
    crop: Crop
    art_size: tuple[int, int]


# ---- text: words, wrapping and fitting -------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """How a balloon's text is set: its fonts, its direction of lines, and its hyphenation."""

    weight: str
    vertical: bool = False  # columns top to bottom, right to left
    hyphenator: Pyphen | None = None
    chain: Chain = ()  # the project's fonts, tried before the weight's shipped ones
    leading: float = LEADING  # line (column) spacing as a multiple of the font size

    @property
    def fonts(self) -> Chain:
        usable = tuple(key for key in self.chain if load_font(key) is not None)
        return (*usable, *CHAINS[self.weight])

    def length(self, runs: list[Run] | tuple[Run, ...]) -> float:
        """How long runs are along a line (a column, in vertical text) at 1 pt."""
        return column_length(runs, 1.0) if self.vertical else runs_width(runs, 1.0)


@cache
def hyphenator_for(language: str) -> Pyphen | None:
    """pyphen's patterns for a language tag (`en`, `de-DE`), or None where it has none."""
    found = pyphen.language_fallback(language.replace("-", "_"))
    return Pyphen(lang=found) if found else None


@dataclass(frozen=True)
class Word:
    """A line-breaking unit (UAX #14): a word, or one CJK character with its punctuation."""

    runs: tuple[Run, ...]
    width: float  # length along the line at 1 pt; lengths scale linearly with the font size
    space: bool = False  # a space follows it: shown between it and the next unit on a line


def _word(runs: list[Run] | tuple[Run, ...], setting: Setting, space: bool = False) -> Word:
    return Word(tuple(runs), setting.length(runs), space)


def words_of(text: str, setting: Setting | str) -> tuple[list[list[Word]], list[str]]:
    """Paragraphs (split at explicit newlines) of measured line-breaking units, and the
    characters no font has. Units are UAX #14's: a line may end after any of them."""
    if isinstance(setting, str):
        setting = Setting(setting)
    paragraphs: list[list[Word]] = []
    missing: list[str] = []
    for paragraph in text.split("\n"):
        words = []
        for unit in line_break_units(paragraph):
            body = unit.rstrip()
            runs, lost = split_runs(body, setting.fonts)
            missing += [c for c in lost if c not in missing]
            if runs:
                words.append(_word(runs, setting, space=body != unit))
            elif words and body != unit:
                words[-1] = Word(words[-1].runs, words[-1].width, space=True)
        paragraphs.append(words)
    return paragraphs, missing


def _join(words: list[Word], space: Run) -> tuple[Run, ...]:
    runs: list[Run] = []
    for i, word in enumerate(words):
        for run in ((space,) if i and words[i - 1].space else ()) + word.runs:
            if runs and runs[-1].font == run.font:
                runs[-1] = Run(run.font, runs[-1].text + run.text)
            else:
                runs.append(run)
    return tuple(runs)


def _break_word(word: Word, limit: float, setting: Setting) -> list[Word]:
    """Split a word longer than `limit` (at 1 pt) into pieces that fit, character by character."""
    pieces: list[Word] = []
    current: list[Run] = []
    for run in word.runs:
        for char in run.text:
            candidate = current + [Run(run.font, char)]
            if current and setting.length(candidate) > limit:
                pieces.append(_word(current, setting))
                candidate = [Run(run.font, char)]
            current = candidate
    if current:
        pieces.append(_word(current, setting, word.space))
    return pieces


def _hyphenate(word: Word, room: float, setting: Setting) -> tuple[Word, Word] | None:
    """Split a word at the last hyphenation point whose head and hyphen fit in `room`."""
    if setting.hyphenator is None or setting.vertical or len(word.runs) != 1:
        return None
    (run,) = word.runs
    for head, tail in setting.hyphenator.iterate(run.text):
        first = _word([Run(run.font, head + "-")], setting)
        if first.width <= room:
            return first, _word([Run(run.font, tail)], setting, word.space)
    return None


def _pieces(word: Word, limit: float, setting: Setting) -> list[Word]:
    """A word longer than a line, in pieces that fit: hyphenated where the language has
    patterns (comic lettering hyphenates nothing else), else broken between characters."""
    pieces: list[Word] = []
    while word.width > limit:
        split = _hyphenate(word, limit, setting)
        if split is None:
            return pieces + _break_word(word, limit, setting)
        pieces.append(split[0])
        word = split[1]
    return [*pieces, word]


@dataclass(frozen=True)
class Line:
    """One wrapped line (a column, in vertical text): its runs and its length in points."""

    runs: tuple[Run, ...]
    width: float


def wrap(
    paragraphs: list[list[Word]], size: float, width: float, setting: Setting | str
) -> list[Line]:
    """Greedy line breaking at `width` points at UAX #14's break opportunities; a word too
    long for a line is hyphenated where the language allows, else broken."""
    if isinstance(setting, str):
        setting = Setting(setting)
    space = Run(setting.fonts[0], " ")
    space_w = setting.length([space])
    limit = width / size
    lines: list[Line] = []
    for paragraph in paragraphs:
        current: list[Word] = []
        used = 0.0
        for word in paragraph:
            gap = space_w if current and current[-1].space else 0.0
            for piece in _pieces(word, limit, setting):
                if current and used + gap + piece.width > limit:
                    lines.append(Line(_join(current, space), used * size))
                    current, used, gap = [], 0.0, 0.0
                current.append(piece)
                used += gap + piece.width
                gap = 0.0
        if current or not paragraph:
            lines.append(Line(_join(current, space), used * size))
    return lines


@dataclass
class Fitted:
    """Text set to fit a balloon: the size, the lines, and how many lines had to be left out."""

    size: float
    lines: list[Line]
    dropped: int = 0
    vertical: bool = False
    leading: float = LEADING

    @property
    def block(self) -> tuple[float, float]:
        length = max((line.width for line in self.lines), default=0.0)
        across = len(self.lines) * self.size * self.leading
        return (across, length) if self.vertical else (length, across)


ShapeSize = Callable[[float, float, float], tuple[float, float]]
# Vertical balloons are tall: height over width at least this share of the kind's aspect.
VERTICAL_ASPECT = 0.8


def fit_text(
    paragraphs: list[list[Word]],
    style: Style,
    shape: ShapeSize,
    max_w: float,
    max_h: float,
    setting: Setting | None = None,
) -> Fitted:
    """The largest font size and line breaks whose balloon fits in max_w x max_h.

    Among the fits at one size it picks the narrowest whose balloon is at least `style.aspect`
    wide for its height (for vertical text: the shortest columns whose balloon is tall by
    VERTICAL_ASPECT of that). At the smallest size, if nothing fits, it keeps the lines that
    fit and reports how many it dropped, so nothing is clipped silently.
    """
    setting = setting or Setting(style.weight)
    one_line = max((sum(w.width for w in p) for p in paragraphs), default=0.0) * 1.3
    longest = max((w.width for p in paragraphs for w in p), default=0.0)
    steps = max(1, round((style.max_size - style.min_size) / 0.5))
    for i in range(steps + 1):
        size = style.max_size - i * (style.max_size - style.min_size) / steps
        best: Fitted | None = None
        best_aspect = 0.0
        low, high = longest * size, max(longest, one_line) * size
        for k in range(16):
            lines = wrap(paragraphs, size, low + (high - low) * k / 15, setting)
            fitted = Fitted(size, lines, vertical=setting.vertical, leading=setting.leading)
            w, h = shape(*fitted.block, size)
            if w > max_w or h > max_h:
                continue
            aspect = h / w if setting.vertical else w / h
            if aspect >= style.aspect * (VERTICAL_ASPECT if setting.vertical else 1.0):
                return fitted
            if aspect > best_aspect:
                best, best_aspect = fitted, aspect
        if best is not None:
            return best
    return _overflow(paragraphs, style, shape, max_w, max_h, setting)


def _overflow(
    paragraphs: list[list[Word]],
    style: Style,
    shape: ShapeSize,
    max_w: float,
    max_h: float,
    setting: Setting,
) -> Fitted:
    size = style.min_size
    leading = size * setting.leading
    if setting.vertical:
        length = _largest(lambda th: shape(leading, th, size)[1] <= max_h, max_h)
        across = _largest(lambda tw: shape(tw, size, size)[0] <= max_w, max_w)
    else:
        length = _largest(lambda tw: shape(tw, leading, size)[0] <= max_w, max_w)
        across = _largest(lambda th: shape(size, th, size)[1] <= max_h, max_h)
    lines = wrap(paragraphs, size, max(length, size), setting)
    keep = max(1, int(across // leading))
    if keep >= len(lines):
        return Fitted(size, lines, vertical=setting.vertical, leading=setting.leading)
    shown = lines[:keep]
    last = shown[-1]
    ellipsis = split_runs("…", setting.fonts)[0]
    tail = last.runs + tuple(ellipsis)
    shown[-1] = Line(tail, setting.length(tail) * size)
    return Fitted(
        size, shown, dropped=len(lines) - keep, vertical=setting.vertical, leading=setting.leading
    )


def _largest(ok: Callable[[float], bool], upper: float) -> float:
    """The largest value in [0, upper] for which the monotone test `ok` holds (bisection)."""
    low, high = 0.0, upper
    for _ in range(30):
        mid = (low + high) / 2
        low, high = (mid, high) if ok(mid) else (low, mid)
    return low


# ---- shapes ----------------------------------------------------------------------------

_K = 2 ** (1 / SUPERELLIPSE_N)  # a superellipse through the text block's corners is this much wider


def _bump(size: float) -> float:
    return 0.45 * size  # how far a thought cloud's bumps stand out


def shape_size(kind: str, angle: float = 0.0, style: Style | None = None) -> ShapeSize:
    """The function giving a balloon's box (w, h) from its text block (tw, th) and font size."""
    style = style or STYLES[kind]

    def size_of(tw: float, th: float, size: float) -> tuple[float, float]:
        pad = style.padding + 0.25 * size
        if kind == "caption":
            return tw + 2 * style.padding, th + 2 * style.padding
        if kind == "sfx":
            rad = math.radians(angle)
            c, s = abs(math.cos(rad)), abs(math.sin(rad))
            return tw * c + th * s, tw * s + th * c
        w = max((tw / 2 + pad) * _K * 2, 2.6 * size)
        h = max((th / 2 + pad) * _K * 2, 2.2 * size)
        if kind == "shout":
            return w * 1.22, h * 1.22
        if kind == "thought":
            return w + 2 * _bump(size), h + 2 * _bump(size)
        return w, h

    return size_of


Samples = list[tuple[float, Point]]  # (parameter, point) around a balloon outline


def _superellipse(centre: Point, a: float, b: float, t: float) -> Point:
    c, s = math.cos(t), math.sin(t)
    e = 2 / SUPERELLIPSE_N
    return (
        centre[0] + a * math.copysign(abs(c) ** e, c),
        centre[1] + b * math.copysign(abs(s) ** e, s),
    )


def _samples(centre: Point, a: float, b: float, count: int = OUTLINE_SAMPLES) -> Samples:
    return [
        (2 * math.pi * i / count, _superellipse(centre, a, b, 2 * math.pi * i / count))
        for i in range(count)
    ]


def _spiky(centre: Point, a: float, b: float, size: float) -> Samples:
    """A shout's burst: points alternating between the text's superellipse and spikes outside it."""
    perimeter = math.pi * (a + b)
    count = max(14, round(perimeter / (1.4 * size))) * 2
    points: Samples = []
    for i in range(count):
        t = 2 * math.pi * i / count
        scale = 1.22 if i % 2 else 1.0
        points.append((t, _superellipse(centre, a * scale, b * scale, t)))
    return points


def _cloud(centre: Point, a: float, b: float, size: float) -> list[Point]:
    """A thought cloud: scalloped bumps standing out from an ellipse."""
    perimeter = math.pi * (a + b)
    count = max(8, round(perimeter / (2.2 * size)))
    base = [_superellipse(centre, a, b, 2 * math.pi * i / count) for i in range(count)]
    bulge = _bump(size)
    out: list[Point] = []
    for i, p in enumerate(base):
        q = base[(i + 1) % count]
        mid = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
        nx, ny = mid[0] - centre[0], mid[1] - centre[1]
        norm = math.hypot(nx, ny) or 1.0
        # A quadratic curve whose apex stands `bulge` out from the chord.
        control = (mid[0] + nx / norm * 2 * bulge, mid[1] + ny / norm * 2 * bulge)
        out += _quadratic(p, control, q, 6)[:-1]
    return out


def _quadratic(p0: Point, p1: Point, p2: Point, steps: int) -> list[Point]:
    return [
        (
            (1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * p1[0] + t * t * p2[0],
            (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * p1[1] + t * t * p2[1],
        )
        for t in (i / steps for i in range(steps + 1))
    ]


def _direction_param(samples: Samples, centre: Point, target: Point) -> float:
    """The outline parameter whose point lies in the direction of `target` from the centre."""
    dx, dy = target[0] - centre[0], target[1] - centre[1]
    norm = math.hypot(dx, dy) or 1.0

    def cosine(item: tuple[float, Point]) -> float:
        _, (x, y) = item
        length = math.hypot(x - centre[0], y - centre[1]) or 1.0
        return ((x - centre[0]) * dx + (y - centre[1]) * dy) / (length * norm)

    return max(samples, key=cosine)[0]


def _splice_tail(
    samples: Samples,
    point_at: Callable[[float], Point],
    centre: Point,
    tip: Point,
    base: float,
    reach: float,
    bend: float,
) -> list[Point]:
    """Cut the outline around the tail's direction and run two (curved) sides out to the tip."""
    t0 = _direction_param(samples, centre, tip)
    delta = min(base / reach, 0.6)
    start, end = t0 + delta, t0 - delta + 2 * math.pi
    kept = sorted(((t - start) % (2 * math.pi), p) for t, p in samples)
    body = [p for offset, p in kept if 0 < offset < end - start]
    b_start, b_end = point_at(start), point_at(end)
    mid = ((b_start[0] + b_end[0]) / 2, (b_start[1] + b_end[1]) / 2)
    ax, ay = tip[0] - mid[0], tip[1] - mid[1]
    # Both sides bow the same way, by `bend` of the tail's length: a gently curved tail.
    side = bend if tip[0] >= centre[0] else -bend
    px, py = -ay * side, ax * side

    def curve(a: Point, b: Point) -> list[Point]:
        control = ((a[0] + b[0]) / 2 + px, (a[1] + b[1]) / 2 + py)
        return _quadratic(a, control, b, 8)

    return [b_start, *body, *curve(b_end, tip), *curve(tip, b_start)[1:-1]]


# ---- placement -------------------------------------------------------------------------


def _in_reading_order(before: Rect, after: Rect, rtl: bool) -> bool:
    """Whether `after` reads after `before`: below it, or beside it on the reading side."""
    if after.y >= before.bottom - GAP:
        return True
    beside = after.x >= before.right - GAP if not rtl else after.right <= before.x + GAP
    return beside and after.y >= before.y - 0.5 * before.h


def _candidates(w: float, h: float, area: Rect, steps: int = 13) -> list[Rect]:
    def positions(start: float, span: float, length: float) -> list[float]:
        if span <= length:
            return [start + (span - length) / 2]
        return [start + (span - length) * i / (steps - 1) for i in range(steps)]

    return [
        Rect(x, y, w, h) for y in positions(area.y, area.h, h) for x in positions(area.x, area.w, w)
    ]


def _clash(rect: Rect, placed: list[Rect]) -> float:
    grown = rect.inset(-GAP)
    return sum(grown.overlap_area(other) for other in placed)


def _best(candidates: list[Rect], placed: list[Rect], cost: Callable[[Rect], float]) -> Rect:
    return min(candidates, key=lambda r: (round(_clash(r, placed), 3), cost(r)))


VERTICAL_LANGUAGES = ("ja", "zh", "ko")


@dataclass(frozen=True)
class LetteringOptions:
    """The book's and the page's lettering choices, resolved once per page."""

    language: str = "en"  # the page's; a balloon's own `language` overrides it
    writing: str | None = None  # the comic's or page's choice; None: the language's default
    lettering: Lettering = field(default_factory=Lettering)  # `[lettering]`: fonts, spacing
    project_dir: Path | None = None  # where its font files are; None: the shipped fonts only

    def chain(self, language: str, kind: str) -> Chain:
        """The project's fonts for a balloon, most specific first, as font keys."""
        if self.project_dir is None:
            return ()
        paths = self.lettering.font_chain(language, kind)
        return tuple(SYSTEM_PREFIX + str((self.project_dir / path).resolve()) for path in paths)


@dataclass
class PanelLettering:
    """What lettering one panel needs to know while its balloons are placed one by one."""

    art: PanelArt
    panel: Panel
    area: Rect
    rtl: bool
    key_path: KeyPath
    sink: DiagnosticSink
    regions: dict[str, Rect] = field(default_factory=dict)
    placed: list[Rect] = field(default_factory=list)
    tails: list[Point] = field(default_factory=list)  # points along earlier balloons' tails
    previous: Rect | None = None
    options: LetteringOptions = field(default_factory=LetteringOptions)

    def setting(self, balloon: Balloon) -> Setting:
        """How this balloon's text is set; sound effects always run horizontally."""
        options = self.options
        language = balloon.language or options.language
        vertical = page_writing(language, options.writing, balloon.writing) == "vertical"
        return Setting(
            STYLES[balloon.kind].weight,
            vertical=vertical and balloon.kind != "sfx",
            hyphenator=hyphenator_for(language),
            chain=options.chain(language, balloon.kind),
            leading=balloon.line_spacing or options.lettering.line_spacing,
        )

    def style(self, balloon: Balloon) -> Style:
        """The balloon kind's style, with the balloon's own padding if it sets one."""
        style = STYLES[balloon.kind]
        return style if balloon.padding is None else replace(style, padding=balloon.padding)

    def at_point(self, balloon: Balloon) -> Point | None:
        if balloon.at is None:
            return None
        frame = self.art.frame
        return (frame.x + balloon.at[0] * frame.w, frame.y + balloon.at[1] * frame.h)

    def head_of(self, balloon: Balloon) -> Point | None:
        """Where a speaker's words come from: near the top of their region, if they have one."""
        region = self.regions.get(balloon.speaker or "")
        if region is None:
            return None
        return (region.x + region.w / 2, region.y + 0.2 * region.h)


def page_writing(language: str, *choices: str | None) -> str:
    """The writing mode from the most specific choice made (comic, page, balloon, in that
    order), else the language's: vertical for Japanese, Chinese and Korean."""
    for choice in reversed(choices):
        if choice is not None:
            return choice
    return "vertical" if primary_language(language) in VERTICAL_LANGUAGES else "horizontal"


def letter_panel(
    art: PanelArt,
    panel: Panel,
    live_area: Rect,
    reading: str,
    key_path: KeyPath,
    sink: DiagnosticSink,
    options: LetteringOptions | None = None,
) -> list[BalloonPlan]:
    """Fit, place and outline every balloon of one panel, in reading order."""
    area = (art.frame.intersection(live_area) or art.frame).inset(INSET)
    ctx = PanelLettering(art, panel, area, reading == "rtl", key_path, sink)
    ctx.options = options or LetteringOptions()
    for name, region in panel.regions.items():
        ctx.regions[name] = region_to_page(region, art.art_size, art.crop, art.frame)
    plans = []
    for index, balloon in enumerate(panel.balloons):
        plans.append(_letter_balloon(ctx, index, balloon))
    return plans


def _letter_balloon(ctx: PanelLettering, index: int, balloon: Balloon) -> BalloonPlan:
    style = ctx.style(balloon)
    where = (*ctx.key_path, "balloons", index)
    angle = 0.0
    if balloon.kind == "sfx":
        angle = (8.0 if index % 2 == 0 else -6.0) * (-1 if ctx.rtl else 1)
    shape = shape_size(balloon.kind, angle, style)
    setting = ctx.setting(balloon)
    paragraphs, missing = words_of(balloon.text, setting)
    if missing:
        listed = " ".join(f"{c!r} (U+{ord(c):04X})" for c in missing[:12])
        ctx.sink.add(
            Diagnostic(
                "warning",
                f"no installed font has {len(missing)} character(s) of this {balloon.kind}: "
                f"{listed}; they are left out",
                key_path=where,
                hint="install a TrueType font that covers them (fontconfig finds it), "
                "or remove them",
                code="font",
            )
        )
    max_w = min(ctx.area.w, max(style.width_share * ctx.area.w, 110.0))
    if balloon.path is not None:
        return _letter_on_path(ctx, index, balloon, style, setting, paragraphs, max_w)
    max_h = min(ctx.area.h, max(style.height_share * ctx.area.h, 60.0))
    if setting.vertical:  # columns run down: the height limits them as the width does lines
        max_w = min(ctx.area.w, max(style.height_share * ctx.area.w, 60.0))
        max_h = min(ctx.area.h, max(style.width_share * ctx.area.h, 110.0))
    fitted = fit_text(paragraphs, style, shape, max_w, max_h, setting)
    if fitted.dropped:
        ctx.sink.add(
            Diagnostic(
                "warning",
                f"{balloon.kind} text does not fit its panel even at {style.min_size:g} pt: "
                f"{fitted.dropped} line(s) left out",
                key_path=where,
                hint="shorten the text, split it into two balloons, or give the panel more room",
                code="lettering",
            )
        )
    tw, th = fitted.block
    w, h = shape(tw, th, fitted.size)
    box = _place(ctx, balloon, w, h)
    if _clash(box, ctx.placed) > 0:
        ctx.sink.add(
            Diagnostic(
                "warning",
                f"no free space for this {balloon.kind}: it overlaps another balloon",
                key_path=where,
                hint="shorten the text, or move it with `at = [x, y]`",
                code="lettering",
            )
        )
    ctx.placed.append(box)
    if balloon.kind != "sfx":
        ctx.previous = box
    return _draw_plan(ctx, index, balloon, style, fitted, box, angle)


def _place(ctx: PanelLettering, balloon: Balloon, w: float, h: float) -> Rect:
    area, at = ctx.area, ctx.at_point(balloon)
    if balloon.kind == "caption" and at is None:
        # Captions sit in a corner: the reading start's top corner first.
        left, right = area.x, area.right - w
        start, end = (right, left) if ctx.rtl else (left, right)
        corners = [
            Rect(x, y, w, h)
            for x, y in (
                (start, area.y),
                (end, area.bottom - h),
                (end, area.y),
                (start, area.bottom - h),
            )
        ]
        return _best(corners, ctx.placed, corners.index)
    head = ctx.head_of(balloon)
    diagonal = math.hypot(area.w, area.h)
    speaker_region = ctx.regions.get(balloon.speaker or "")

    def cost(rect: Rect) -> float:
        cx, cy = rect.centre
        if at is not None:
            return math.hypot(cx - at[0], cy - at[1]) / diagonal
        total = 0.0
        for region in ctx.regions.values():
            weight = 3.0 if region is speaker_region else 1.5
            total += weight * rect.overlap_area(region) / rect.area
        if balloon.kind == "sfx":
            return (
                total
                + abs(cy - (area.y + 0.62 * area.h)) / area.h
                + abs(cx - area.centre[0]) / area.w * 0.5
            )
        fy = (rect.y - area.y) / max(area.h - rect.h, 1.0)
        fx = (rect.x - area.x) / max(area.w - rect.w, 1.0)
        total += fy + 0.4 * (1 - fx if ctx.rtl else fx)
        if ctx.previous is not None and not _in_reading_order(ctx.previous, rect, ctx.rtl):
            total += 3.0
        grown = rect.inset(-GAP)
        if any(grown.contains(Rect(x, y, 0, 0)) for x, y in ctx.tails):
            total += 2.0  # do not hide an earlier balloon's tail
        if head is not None:
            total += 1.2 * abs(cx - head[0]) / area.w
            if rect.bottom > head[1] - GAP:
                total += 1.0
            # A little pull towards the speaker keeps tails short.
            total += 1.0 * max(0.0, head[1] - rect.bottom - 30.0) / area.h
        return total

    return _best(_candidates(w, h, area), ctx.placed, cost)


def _tail_tip(ctx: PanelLettering, balloon: Balloon, box: Rect) -> Point | None:
    """Where the tail points: the speaker's region, else the `tail` hint, else down and inwards."""
    if balloon.tail == "none":
        return None
    frame = ctx.art.frame.inset(2.0)
    centre = box.centre
    head = ctx.head_of(balloon)
    if head is not None and not box.inset(-GAP).contains(Rect(head[0], head[1], 0, 0)):
        dx, dy = head[0] - centre[0], head[1] - centre[1]
        distance = math.hypot(dx, dy)
        edge = _edge_distance(box, dx / distance, dy / distance)
        # Stop just short of the head, so the tail points at the speaker without covering them;
        # from below, stop where the tail would enter the speaker's region, not cross their body.
        reach = distance - min(8.0, 0.3 * distance)
        region = ctx.regions[balloon.speaker or ""]
        entry = _entry(centre, head, region)
        if box.y > head[1] and entry is not None:
            reach = min(reach, entry * distance - 4.0)
        if reach > edge + 6.0:
            return frame.clamp_point(
                (centre[0] + dx / distance * reach, centre[1] + dy / distance * reach)
            )
    hints = {
        "left": (-1.0, 0.35),
        "right": (1.0, 0.35),
        "bottom-left": (-0.45, 1.0),
        "bottom-right": (0.45, 1.0),
        "top": (0.15, -1.0),
    }
    if balloon.tail in hints:
        dx, dy = hints[balloon.tail]
    else:
        inwards = 1.0 if ctx.art.frame.centre[0] >= centre[0] else -1.0
        dx, dy = 0.35 * inwards, 1.0
        if box.bottom + 14.0 > frame.bottom:
            dy = -1.0  # no room below: point up
    norm = math.hypot(dx, dy)
    dx, dy = dx / norm, dy / norm
    length = min(max(0.55 * box.h, 12.0), 36.0)
    edge = _edge_distance(box, dx, dy)
    return frame.clamp_point((centre[0] + dx * (edge + length), centre[1] + dy * (edge + length)))


def _entry(start: Point, end: Point, rect: Rect) -> float | None:
    """The fraction along start->end where the segment enters `rect` (None if it starts inside)."""
    low = 0.0
    for origin, delta, lo, hi in (
        (start[0], end[0] - start[0], rect.x, rect.right),
        (start[1], end[1] - start[1], rect.y, rect.bottom),
    ):
        if delta == 0:
            continue
        t1, t2 = (lo - origin) / delta, (hi - origin) / delta
        low = max(low, min(t1, t2))
    return low if low > 0 else None


def _edge_distance(box: Rect, dx: float, dy: float) -> float:
    """Distance from the box centre to its inscribed ellipse along (dx, dy)."""
    a, b = box.w / 2, box.h / 2
    return 1.0 / math.sqrt((dx / a) ** 2 + (dy / b) ** 2)


# ---- the drawable plan -----------------------------------------------------------------


def _draw_plan(
    ctx: PanelLettering,
    index: int,
    balloon: Balloon,
    style: Style,
    fitted: Fitted,
    box: Rect,
    angle: float,
) -> BalloonPlan:
    size = fitted.size
    tw, th = fitted.block
    centre = box.centre
    outline: list[Point] = []
    bubbles: list[tuple[float, float, float]] = []
    kind = balloon.kind
    if kind == "caption":
        outline = [(box.x, box.y), (box.right, box.y), (box.right, box.bottom), (box.x, box.bottom)]
    elif kind != "sfx":
        a, b = box.w / 2, box.h / 2
        if kind == "shout":
            a, b = a / 1.22, b / 1.22
        elif kind == "thought":
            a, b = a - _bump(size), b - _bump(size)
        tip = _tail_tip(ctx, balloon, box)
        if tip is not None:
            ctx.tails += [
                (centre[0] + (tip[0] - centre[0]) * f, centre[1] + (tip[1] - centre[1]) * f)
                for f in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
            ]
        base = min(max(0.28 * min(box.w, box.h), 6.0), 16.0)
        if kind == "thought":
            outline = _cloud(centre, a, b, size)
            if tip is not None:
                bubbles = _trail(centre, a, b, tip, size)
        else:
            samples = _spiky(centre, a, b, size) if kind == "shout" else _samples(centre, a, b)
            if tip is None:
                outline = [p for _, p in samples]
            else:

                def point_at(t: float) -> Point:
                    return _superellipse(centre, a, b, t)

                bend = 0.0 if kind == "shout" else 0.12
                outline = _splice_tail(samples, point_at, centre, tip, base, (a + b) / 2, bend)
    lines = _text_lines(fitted, box, kind, style)
    return BalloonPlan(
        kind=kind,
        panel=ctx.art.index,
        index=index,
        box=box,
        outline=tuple(outline),
        bubbles=tuple(bubbles),
        lines=tuple(lines),
        fill=style.fill,
        stroke=style.stroke,
        line_width=style.line_width if kind != "sfx" else max(0.6, size * 0.035),
        dashed=style.dashed,
        text_colour=style.text_colour,
        text_outline=style.text_outline,
        angle=angle,
    )


def _trail(
    centre: Point, a: float, b: float, tip: Point, size: float
) -> list[tuple[float, float, float]]:
    """A thought balloon's trail: three shrinking bubbles from the cloud towards the thinker."""
    dx, dy = tip[0] - centre[0], tip[1] - centre[1]
    distance = math.hypot(dx, dy) or 1.0
    ux, uy = dx / distance, dy / distance
    edge = 1.0 / math.sqrt((ux / a) ** 2 + (uy / b) ** 2) + _bump(size)
    # The trail leads towards the thinker without having to reach them.
    span = min(max(distance - edge, 3 * size), 6 * size)
    radii = (0.6 * size, 0.42 * size, 0.28 * size)
    return [
        (centre[0] + ux * (edge + span * f), centre[1] + uy * (edge + span * f), r)
        for f, r in zip((0.2, 0.55, 0.88), radii, strict=True)
    ]


def _text_lines(fitted: Fitted, box: Rect, kind: str, style: Style) -> list[TextLine]:
    if fitted.vertical:
        return _columns(fitted, box, kind, style)
    size = fitted.size
    leading = size * fitted.leading
    tw, th = fitted.block
    cx, cy = box.centre
    top = box.y + style.padding if kind == "caption" else cy - th / 2
    rtl = paragraph_rtl("".join(run.text for line in fitted.lines for run in line.runs))
    lines = []
    for i, line in enumerate(fitted.lines):
        glyphs = shape_line(line.runs, size, rtl)
        width = line_width(glyphs)
        x = cx - width / 2
        if kind == "caption":
            x = box.right - style.padding - width if rtl else box.x + style.padding
        # Centre each line's cap height on its slot: about 0.35 em below the slot's middle.
        baseline = top + i * leading + leading / 2 + 0.35 * size
        lines.append(TextLine(x, baseline, size, line.runs, glyphs))
    return lines


def _columns(fitted: Fitted, box: Rect, kind: str, style: Style) -> list[TextLine]:
    """Vertical text: columns from the right, each set from its top down. A column's line
    has its x on the column's centre line and its baseline at the column's top."""
    size = fitted.size
    leading = size * fitted.leading
    tw, th = fitted.block
    right, top = box.centre[0] + tw / 2, box.centre[1] - th / 2
    if kind == "caption":
        right, top = box.right - style.padding, box.y + style.padding
    return [
        TextLine(right - (i + 0.5) * leading, top, size, line.runs, shape_column(line.runs, size))
        for i, line in enumerate(fitted.lines)
    ]


# ---- sound effects along a path ------------------------------------------------------

ARC_RISE = 0.22  # how far an arc's middle stands above its ends, as a share of its width


def _letter_on_path(
    ctx: PanelLettering,
    index: int,
    balloon: Balloon,
    style: Style,
    setting: Setting,
    paragraphs: list[list[Word]],
    room: float,
) -> BalloonPlan:
    """A sound effect set on one line along its path, each letter turned to the path's
    direction where it stands: an arc over the place a sound effect would take, or the
    author's points."""
    words = [word for paragraph in paragraphs for word in paragraph]
    runs = _join(words, Run(setting.fonts[0], " "))
    length = max(setting.length(runs), 1e-6)  # at 1 pt
    frame = ctx.art.frame
    points: list[Point] = []
    if isinstance(balloon.path, list):
        points = [(frame.x + x * frame.w, frame.y + y * frame.h) for x, y in balloon.path]
        room = _polyline_length(points)
    size = min(max(room / length, style.min_size), style.max_size)
    if not points:
        width, height = length * size, size * (1 + ARC_RISE * length)
        box = _place(ctx, balloon, width, height)
        points = _arc(box, size)
    else:
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        box = Rect(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)).inset(-0.6 * size)
    ctx.placed.append(box)
    glyphs = _along(shape_line(runs, size), points, size)
    return BalloonPlan(
        kind=balloon.kind,
        panel=ctx.art.index,
        index=index,
        box=box,
        outline=(),
        bubbles=(),
        lines=(TextLine(0.0, 0.0, size, runs, glyphs),),
        fill=None,
        stroke=None,
        line_width=max(0.6, size * 0.035),
        dashed=False,
        text_colour=style.text_colour,
        text_outline=style.text_outline,
        angle=0.0,
    )


def _arc(box: Rect, size: float, steps: int = 32) -> list[Point]:
    """A circular arc across the box: its ends low at the sides, its middle at the top, each
    a half line in from the box's edge so the letters stay inside it."""
    half = box.w / 2
    rise = max(box.h - size, 1e-6)
    radius = (half * half + rise * rise) / (2 * rise)
    cx, cy = box.centre[0], box.y + 0.5 * size + radius
    reach = math.asin(min(half / radius, 1.0))
    return [
        (cx + radius * math.sin(t), cy - radius * math.cos(t))
        for t in (-reach + 2 * reach * i / steps for i in range(steps + 1))
    ]


def _polyline_length(points: list[Point]) -> float:
    return sum(math.dist(a, b) for a, b in zip(points, points[1:], strict=False))


def _point_on(points: list[Point], distance: float) -> tuple[Point, Point]:
    """The point `distance` along a polyline and the unit direction there; beyond either
    end, the end segment carries on straight."""
    for a, b in zip(points, points[1:], strict=False):
        step = math.dist(a, b)
        if step == 0:
            continue
        ux, uy = (b[0] - a[0]) / step, (b[1] - a[1]) / step
        if distance <= step or b is points[-1]:
            return (a[0] + ux * distance, a[1] + uy * distance), (ux, uy)
        distance -= step
    return points[0], (1.0, 0.0)


def _along(glyphs: tuple[Glyph, ...], points: list[Point], size: float) -> tuple[Glyph, ...]:
    """Glyphs of one line moved onto a path, centred on it, each turned to its direction."""
    out: list[Glyph] = []
    start = (_polyline_length(points) - line_width(glyphs)) / 2
    for glyph in glyphs:
        (px, py), (ux, uy) = _point_on(points, start + glyph.x + glyph.advance / 2)
        # The baseline runs a little below the path, so the letters' middle is on it.
        below = 0.35 * size + glyph.y
        out.append(
            replace(
                glyph,
                x=px - ux * glyph.advance / 2 - uy * below,
                y=py - uy * glyph.advance / 2 + ux * below,
                angle=-math.degrees(math.atan2(uy, ux)),
            )
        )
    return tuple(out)
