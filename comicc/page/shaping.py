"""Shaping: a line's runs of text turned into positioned glyphs, in any script and direction.

HarfBuzz (uharfbuzz) shapes each stretch of one font and one direction: Arabic joining,
combining marks, ligatures, kerning. The Unicode bidi algorithm (python-bidi) resolves
each character's embedding level, and the stretches are reordered by those levels
(UAX #9, rule L2), so a Hebrew or Arabic line reads right to left with any Latin or
digits in it left to right. Glyphs keep the index of the character their cluster starts
at, so the PDF can carry the logical text for search and screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import uharfbuzz as hb
from bidi import algorithm as uba

from comicc.page.fonts import Run, font_file


@dataclass(frozen=True)
class Glyph:
    """One glyph placed on a line: its font, glyph id, and where it stands.

    `x` and `y` are points from the line's origin (its left end on the baseline), x to the
    right and y down, at the line's size; `advance` is how far the pen moved. `cluster` is
    the index in the line's text of the first character this glyph's cluster stands for;
    `rtl` says it was set right to left.
    """

    font: str
    gid: int
    x: float
    y: float
    advance: float
    cluster: int
    rtl: bool = False
    angle: float = 0.0  # degrees counter-clockwise about (x, y): -90 sets a run sideways

    @property
    def rotated(self) -> bool:
        return self.angle != 0.0

    def to_json(self) -> list[object]:
        return [self.font, self.gid, self.x, self.y, self.advance, self.cluster, self.rtl,
                self.angle]

    @staticmethod
    def from_json(data: list[object]) -> Glyph:
        font, gid, x, y, advance, cluster, rtl, angle = data
        return Glyph(
            str(font),
            int(gid),  # type: ignore[call-overload]
            float(x),  # type: ignore[arg-type]
            float(y),  # type: ignore[arg-type]
            float(advance),  # type: ignore[arg-type]
            int(cluster),  # type: ignore[call-overload]
            bool(rtl),
            float(angle),  # type: ignore[arg-type]
        )


@cache
def _hb_font(key: str) -> tuple[hb.Font, int]:
    """HarfBuzz's view of the font `key`, scaled to its own units, and its units per em."""
    path, index = font_file(key)
    face = hb.Face(hb.Blob.from_file_path(str(path)), index)
    font = hb.Font(face)
    font.scale = (face.upem, face.upem)
    return font, face.upem


@dataclass(frozen=True)
class ShapedRun:
    """HarfBuzz's output for one run: glyph ids, clusters (run-relative) and positions in em."""

    gids: tuple[int, ...]
    clusters: tuple[int, ...]
    advances: tuple[float, ...]
    offsets: tuple[tuple[float, float], ...]  # (x, y up) in em
    widths: tuple[float, ...] = ()  # vertical runs: each glyph's horizontal advance, in em


@cache
def shape_run(font: str, text: str, rtl: bool = False, vertical: bool = False) -> ShapedRun:
    """Shape `text` in one font and one direction; glyphs come out in visual order.

    Vertical runs are set top to bottom (HarfBuzz applies the font's vertical forms);
    their advances are downward, in em.
    """
    hb_font, upem = _hb_font(font)
    buf = hb.Buffer()
    buf.add_codepoints([ord(c) for c in text])
    buf.guess_segment_properties()
    buf.direction = "ttb" if vertical else "rtl" if rtl else "ltr"
    # Vertical forms are drawn by comicc itself (see TU_PUNCTUATION), not taken from fonts.
    features = {"vert": False, "vrt2": False} if vertical else {"kern": True, "liga": True}
    hb.shape(hb_font, buf, features)
    positions = buf.glyph_positions
    gids = tuple(info.codepoint for info in buf.glyph_infos)
    return ShapedRun(
        gids=gids,
        clusters=tuple(info.cluster for info in buf.glyph_infos),
        advances=tuple((-p.y_advance if vertical else p.x_advance) / upem for p in positions),
        offsets=tuple((p.x_offset / upem, p.y_offset / upem) for p in positions),
        widths=tuple(hb_font.get_glyph_h_advance(g) / upem for g in gids) if vertical else (),
    )


def run_width(font: str, text: str) -> float:
    """The shaped width of `text` in `font` at 1 pt."""
    return sum(shape_run(font, text, paragraph_rtl(text)).advances)


# Vertical orientation (UTR #50). Characters of these blocks stand upright in vertical
# text (U); everything else (Latin, digits, Arabic...) is set sideways (R), turned 90
# degrees clockwise. Fonts' vertical forms are not relied on (the one TrueType CJK font
# most systems have, Droid Sans Fallback, maps 、 and 。 to unrelated ideographs), so the
# transformed classes are drawn from the horizontal glyphs: Tu punctuation moved to the
# em box's top right corner, Tr brackets, dashes and the long vowel mark turned sideways.
UPRIGHT_BLOCKS = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x2FF0, 0x303F),  # ideographic description, CJK symbols and punctuation
    (0x3040, 0x31FF),  # Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun
    (0x3200, 0x9FFF),  # enclosed CJK, compatibility, extension A, unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE10, 0xFE1F),  # vertical forms
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFF60),  # full-width forms
    (0xFFE0, 0xFFE7),  # full-width signs
    (0x1F000, 0x1FAFF),  # emoji and pictographs
    (0x20000, 0x3FFFF),  # CJK extensions B and later
)
TU_PUNCTUATION = frozenset("、。，．\uff0c\uff0e")
TR_ROTATED = frozenset(
    "「」『』（）【】〈〉《》〔〕〖〗〘〙〚〛［］｛｝ー〜～…‥―－：；＝"
    "\uff08\uff09\uff3b\uff3d\uff5b\uff5d\uff5e\uff0d\uff1a\uff1b\u30fc\u2026\u2025"
)
TU_SHIFT = 0.6  # em right and up: a comma or full stop's place in a vertical em box
CJK_BASELINE = 0.88  # how far below its em box's top a full-width glyph's baseline lies, in em


def orientation(char: str) -> str:
    """UTR #50's vertical orientation, as comicc draws it: "U" upright, "Tu" upright and
    moved to the top right, "R" sideways (Tr characters included)."""
    if char in TU_PUNCTUATION:
        return "Tu"
    if char in TR_ROTATED:
        return "R"
    code = ord(char)
    return "U" if any(low <= code <= high for low, high in UPRIGHT_BLOCKS) else "R"


def upright(char: str) -> bool:
    """Whether `char` stands upright in vertical text (else it is set sideways)."""
    return orientation(char) != "R"


# Tate-chu-yoko (JLREQ 3.4, UTR #50): a short number or "!?" standing alone in vertical
# text is set across the column in one em, not turned sideways. Longer runs stay sideways.
TATE_CHU_YOKO_LIMIT = 2
TATE_CHU_YOKO_SETS = (frozenset("0123456789"), frozenset("!?"))
TATE_CHU_YOKO_ADVANCE = 1.0  # em down the column a tate-chu-yoko run takes: one square


def tate_chu_yoko(text: str) -> bool:
    """Whether a sideways stretch standing alone between upright characters is set across."""
    return 0 < len(text) <= TATE_CHU_YOKO_LIMIT and any(
        set(text) <= chars for chars in TATE_CHU_YOKO_SETS
    )


def _orientation_runs(runs: tuple[Run, ...]) -> list[tuple[Run, int, str]]:
    """Runs split where the orientation changes: (run, start in the text, orientation).

    Orientation "H" is a tate-chu-yoko run: a short sideways stretch, in one font, with no
    sideways character either side, set horizontally across the column.
    """
    out = _orientation_stretches(runs)

    def sideways(j: int) -> bool:
        return 0 <= j < len(out) and out[j][2] == "R"

    for i, (run, start, mode) in enumerate(out):
        alone = not sideways(i - 1) and not sideways(i + 1)
        if mode == "R" and alone and tate_chu_yoko(run.text):
            out[i] = (run, start, "H")
    return out


def _orientation_stretches(runs: tuple[Run, ...]) -> list[tuple[Run, int, str]]:
    out: list[tuple[Run, int, str]] = []
    start = 0
    for run in runs:
        for offset, char in enumerate(run.text):
            mode = orientation(char)
            if out and out[-1][0].font == run.font and out[-1][2] == mode:
                last, begin, _ = out[-1]
                out[-1] = (Run(run.font, last.text + char), begin, mode)
            else:
                out.append((Run(run.font, char), start + offset, mode))
        start += len(run.text)
    return out


def column_length(runs: list[Run] | tuple[Run, ...], size: float) -> float:
    """How long runs are set top to bottom at `size` points: upright advances plus the
    widths of sideways runs."""
    total = 0.0
    for run, _, mode in _orientation_runs(tuple(runs)):
        if mode == "U":
            total += sum(shape_run(run.font, run.text, vertical=True).advances)
        elif mode == "H":
            total += TATE_CHU_YOKO_ADVANCE
        else:
            total += run_width(run.font, run.text)
    return total * size


# Where a sideways run's baseline sits left of the column's centre line, in em: its
# capitals (about 0.7 em tall) are centred in the column.
SIDEWAYS_BASELINE = 0.35


def shape_column(runs: tuple[Run, ...], size: float) -> tuple[Glyph, ...]:
    """The glyphs of one vertical column at `size` points, from its top centre downwards.

    Upright runs are shaped top to bottom (HarfBuzz's glyphs and vertical advances), each
    glyph centred on the column; sideways runs are shaped left to right and turned 90
    degrees clockwise, their baseline just left of the centre line; tate-chu-yoko runs
    are shaped left to right and centred across the column in one em.
    """
    glyphs: list[Glyph] = []
    pen = 0.0
    for run, start, mode in _orientation_runs(runs):
        if mode == "H":
            glyphs += _across(run, start, pen, size)
            pen += TATE_CHU_YOKO_ADVANCE * size
            continue
        shaped = shape_run(run.font, run.text, vertical=mode == "U")
        widths = shaped.widths or shaped.advances
        for gid, cluster, advance, (dx, dy), width in zip(
            shaped.gids, shaped.clusters, shaped.advances, shaped.offsets, widths, strict=True
        ):
            if mode == "R":
                x, y = -SIDEWAYS_BASELINE * size - dy * size, pen + dx * size
            elif mode == "Tu":  # the horizontal glyph, moved up and right in its em box
                x = (TU_SHIFT - 0.5 + dx) * size
                y = pen + (CJK_BASELINE - TU_SHIFT - dy) * size
            else:
                # Centred on the column, baseline where a full-width glyph's is: fonts'
                # vertical origins (vmtx side bearings) vary too much to be trusted.
                x, y = -width / 2 * size, pen + CJK_BASELINE * size
            glyphs.append(
                Glyph(run.font, gid, x, y, advance * size, start + cluster,
                      angle=-90.0 if mode == "R" else 0.0)
            )
            pen += advance * size
    return tuple(glyphs)


def _across(run: Run, start: int, pen: float, size: float) -> list[Glyph]:
    """A tate-chu-yoko run at `pen` down the column: HarfBuzz's horizontal glyphs, centred
    on the column, on the baseline of a full-width glyph in that square."""
    shaped = shape_run(run.font, run.text)
    x = -sum(shaped.advances) / 2 * size
    glyphs = []
    for gid, cluster, advance, (dx, dy) in zip(
        shaped.gids, shaped.clusters, shaped.advances, shaped.offsets, strict=True
    ):
        y = pen + CJK_BASELINE * size - dy * size
        glyphs.append(Glyph(run.font, gid, x + dx * size, y, advance * size, start + cluster))
        x += advance * size
    return glyphs


def paragraph_rtl(text: str) -> bool:
    """Whether text reads right to left: its first strong character's direction (rule P2)."""
    return uba.get_base_level(text) == 1


def bidi_levels(text: str, rtl: bool | None = None) -> list[int]:
    """Each character's resolved embedding level (odd: right to left), UAX #9 up to rule I2.

    `rtl` sets the paragraph direction; None takes it from the first strong character.
    """
    storage = uba.get_empty_storage()
    base = uba.get_base_level(text) if rtl is None else int(rtl)
    storage["base_level"], storage["base_dir"] = base, ("L", "R")[base]
    uba.get_embedding_levels(text, storage)
    for index, char in enumerate(storage["chars"]):
        char["index"] = index
    uba.explicit_embed_and_overrides(storage, False)
    uba.resolve_weak_types(storage, False)
    uba.resolve_neutral_types(storage, False)
    uba.resolve_implicit_levels(storage, False)
    levels = [base] * len(text)  # embedding controls removed by rule X9 keep the base level
    for char in storage["chars"]:
        levels[char["index"]] = char["level"]
    return levels


@dataclass(frozen=True)
class _Segment:
    font: str
    start: int
    text: str
    level: int


def _segments(runs: tuple[Run, ...], levels: list[int]) -> list[_Segment]:
    """Split runs wherever the font or the embedding level changes, in logical order."""
    segments: list[_Segment] = []
    start = 0
    for run in runs:
        for offset, char in enumerate(run.text):
            level = levels[start + offset]
            last = segments[-1] if segments else None
            if last is not None and last.font == run.font and last.level == level:
                segments[-1] = _Segment(last.font, last.start, last.text + char, level)
            else:
                segments.append(_Segment(run.font, start + offset, char, level))
        start += len(run.text)
    return segments


def _visual_order(segments: list[_Segment]) -> list[_Segment]:
    """Rule L2: from the highest level down to the lowest odd one, reverse each stretch at
    that level or higher."""
    order = list(segments)
    if not order:
        return order
    highest = max(s.level for s in order)
    lowest_odd = min((s.level for s in order if s.level % 2), default=highest + 1)
    for level in range(highest, lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if order[i].level < level:
                i += 1
                continue
            j = i
            while j < len(order) and order[j].level >= level:
                j += 1
            order[i:j] = reversed(order[i:j])
            i = j
    return order


def shape_line(runs: tuple[Run, ...], size: float, rtl: bool | None = None) -> tuple[Glyph, ...]:
    """The glyphs of one line set at `size` points, in visual order from its left end."""
    text = "".join(run.text for run in runs)
    levels = bidi_levels(text, rtl)
    glyphs: list[Glyph] = []
    pen = 0.0
    for segment in _visual_order(_segments(runs, levels)):
        shaped = shape_run(segment.font, segment.text, segment.level % 2 == 1)
        for gid, cluster, advance, (dx, dy) in zip(
            shaped.gids, shaped.clusters, shaped.advances, shaped.offsets, strict=True
        ):
            glyphs.append(
                Glyph(
                    segment.font,
                    gid,
                    pen + dx * size,
                    -dy * size,
                    advance * size,
                    segment.start + cluster,
                    segment.level % 2 == 1,
                )
            )
            pen += advance * size
    return tuple(glyphs)


def line_width(glyphs: tuple[Glyph, ...]) -> float:
    """How far a line's pen moves: its width in points."""
    return sum(glyph.advance for glyph in glyphs)


def runs_width(runs: list[Run] | tuple[Run, ...], size: float) -> float:
    """Width in points of runs set at `size` points, each shaped on its own."""
    return sum(run_width(run.font, run.text) for run in runs) * size
