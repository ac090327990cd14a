"""The comic.toml data model: every key an author can write, validated by pydantic.

The JSON Schema in `schemas/comic.schema.json` is generated from these classes
(`comicc schema`); never edit it by hand.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from comicc.manifest.choices import (
    BackendChoice,
    DeviceChoice,
    ElementColours,
    ElementColoursChoice,
    Keep,
    PdfFlavour,
    PresetName,
    Printer,
    RenderingIntent,
    StyleNetName,
)

POINTS_PER_UNIT = {"in": 72.0, "mm": 72.0 / 25.4, "cm": 72.0 / 2.54, "pt": 1.0}
_LENGTH_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(in|mm|cm|pt)\s*$")

# Trim sizes in points (width, height) for the named formats.
FORMATS: dict[str, tuple[float, float]] = {
    "us-comic": (6.625 * 72, 10.25 * 72),
    "manga-b6": (128 / 25.4 * 72, 182 / 25.4 * 72),
    "a4": (210 / 25.4 * 72, 297 / 25.4 * 72),
}

ElementId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", max_length=64)]

# A BCP 47 language tag as authors write them: a primary language, then subtags (ja, pt-BR,
# zh-Hant, sr-Latn-RS); `_` is accepted for `-`.
_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


def _language_tag(value: str) -> str:
    if not _LANGUAGE_RE.match(value):
        raise ValueError(
            f"{value!r} is not a language tag: write a BCP 47 tag such as en, ar, ja or pt-BR"
        )
    return value


# The pattern is for editors (the JSON Schema); the validator gives authors the message.
LanguageTag = Annotated[
    str,
    Field(max_length=35, json_schema_extra={"pattern": _LANGUAGE_RE.pattern}),
    AfterValidator(_language_tag),
]


def primary_language(tag: str) -> str:
    """The primary subtag of a language tag, lower case: `pt` for `pt-BR`."""
    return tag.lower().replace("_", "-").split("-")[0]


def parse_length(value: str | float | int) -> float:
    """Parse a length such as "0.125in", "3mm" or a bare number of points into points."""
    if isinstance(value, bool):
        raise ValueError("expected a length such as \"0.125in\" or \"3mm\", got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    match = _LENGTH_RE.match(value)
    if not match:
        raise ValueError(f'expected a length such as "0.125in", "3mm" or "9pt", got "{value}"')
    number, unit = match.groups()
    return float(number) * POINTS_PER_UNIT[unit]


class Strict(BaseModel):
    """Base for manifest tables: unknown keys are errors, not silently ignored."""

    # strict: TOML has real types, so "300" for a number is a mistake worth reporting.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_length(value: object, low: float, high: float, what: str) -> float:
    points = parse_length(value)  # type: ignore[arg-type]
    if not low <= points <= high:
        raise ValueError(f"{what} must be between {low / 72:g}in and {high / 72:g}in, got {value}")
    return points


class Trim(Strict):
    """A custom trim size, for `format = "custom"`."""

    width: str | float = Field(description='Trim width, e.g. "6in" or "152mm".')
    height: str | float = Field(description='Trim height, e.g. "9in".')

    @field_validator("width", "height")
    @classmethod
    def _size(cls, value: str | float) -> str | float:
        _check_length(value, 72, 72 * 40, "a trim side")
        return value


StyleMix = dict[str, float]

KEEP_HELP = ("What of the artist's picture the restyle keeps: auto (the art's light and dark in "
             "a panel drawn dark, so a night scene stays night; the style's light elsewhere), "
             "colours (the art's hue and saturation, restyled in light and texture), lighting "
             "(the art's light and dark in every panel), colours+lighting (only strokes and "
             "texture change) or none")

COLOURS_HELP = ("What the restyle does with an element's own colours, those of its reference "
                "drawings on a plain background or a smooth sky that the other elements' lack: "
                "keep (inside its region, the pixels drawn in them print in the art's colours "
                "under the style's light and strokes, so a red fox stays red) or restyle (the "
                "style recolours them with the rest of the panel)")

STRENGTH_HELP = ("How much of the style reaches the art: 0.0 gives back the concept art, 1.0 the "
                 "full style")


def _strength(default: float | None, where: str) -> Any:
    return Field(default=default, ge=0.0, le=1.0, description=f"{STRENGTH_HELP} ({where}).")


class ComicMeta(Strict):
    """`[comic]`: what the book is and how it prints."""

    title: str = Field(min_length=1, max_length=300, description="The book's title.")
    authors: list[str] = Field(default_factory=list, description="Credited authors, in order.")
    format: Literal["us-comic", "manga-b6", "a4", "custom"] = Field(
        default="us-comic", description="Trim size: us-comic 6.625x10.25in, manga-b6, a4, or custom."
    )
    trim: Trim | None = Field(default=None, description='Trim size when format = "custom".')
    bleed: str | float = Field(default="0.125in", description="Bleed added on each side.")
    safe_margin: str | float = Field(
        default="0.25in", description="Live-area margin inside the trim that lettering stays within."
    )
    dpi: int = Field(default=300, ge=72, le=1200, description="Print resolution of placed art.")
    reading: Literal["ltr", "rtl"] = Field(
        default="ltr", description="Reading direction; rtl mirrors layouts (manga)."
    )
    language: LanguageTag = Field(
        default="en",
        description="Language of the lettering (a BCP 47 tag such as en, de, ar, ja): it sets "
        "hyphenation, the fonts of [lettering.languages] and, for ja, zh and ko, vertical "
        "writing in balloons.",
    )
    writing: Literal["horizontal", "vertical"] | None = Field(
        default=None,
        description="horizontal or vertical lettering (columns top to bottom, right to left); "
        "default: vertical for ja, zh and ko, else horizontal.",
    )
    direction: str = Field(
        default="", max_length=2000, description="Global text direction for the whole comic."
    )
    style_image: str | None = Field(
        default=None, description="Style reference image for the gram backend."
    )
    style: str | int | StyleMix | None = Field(
        default=None,
        description="Pretrained network style: a name, an index 0-25, or a mix {name = weight}.",
    )
    strength: float = _strength(1.0, "every panel, unless its page, the panel or an element "
                                "region says otherwise")
    pad_to_even: bool = Field(default=False, description="Add a blank page to reach an even count.")
    pdf: PdfFlavour = Field(
        default="plain",
        description="PDF flavour: plain RGB, PDF/X-4 (sRGB, or CMYK with icc_profile) or "
        "PDF/X-1a (CMYK only, no transparency). See docs/printing.md.",
    )
    printer: Printer = Field(
        default="generic", description="Printer whose specification the build checks the PDF against."
    )
    icc_profile: str | None = Field(
        default=None,
        description="CMYK output profile (.icc) for x1a/x4; default comicc's GRACoL 2006 coated.",
    )
    rendering_intent: RenderingIntent = Field(
        default="relative", description="How RGB art maps into the printer's CMYK gamut."
    )
    ink_limit: int | None = Field(
        default=None, ge=200, le=400,
        description="Total area coverage limit in percent; default the printer's (240 for "
        "ingramspark, else 300).",
    )

    @field_validator("bleed")
    @classmethod
    def _bleed(cls, value: str | float) -> str | float:
        _check_length(value, 0, 72, "bleed")
        return value

    @field_validator("safe_margin")
    @classmethod
    def _safe(cls, value: str | float) -> str | float:
        _check_length(value, 0, 144, "safe_margin")
        return value

    @model_validator(mode="after")
    def _custom_needs_trim(self) -> ComicMeta:
        if self.format == "custom" and self.trim is None:
            raise ValueError('format = "custom" needs a [comic.trim] table with width and height')
        return self

    def trim_points(self) -> tuple[float, float]:
        """Trim (width, height) in points."""
        if self.trim is not None:
            return parse_length(self.trim.width), parse_length(self.trim.height)
        return FORMATS[self.format]

    def bleed_points(self) -> float:
        return parse_length(self.bleed)

    def safe_margin_points(self) -> float:
        return parse_length(self.safe_margin)


class BuildOptions(Strict):
    """`[build]`: how the panels are restyled. CLI flags override these."""

    backend: BackendChoice = Field(
        default="auto", description="Style loss: clip (text), gram (style image), auto, or none."
    )
    stylenet: StyleNetName = Field(
        default="pretrained",
        description="Network fine-tuned: the pretrained 26-style network or a U-Net from identity.",
    )
    preset: PresetName = Field(
        default="draft", description="Quality/time trade-off: draft (CPU), standard, final (GPU)."
    )
    seed: int = Field(default=1, ge=0, le=2**31 - 1, description="Random seed.")
    device: DeviceChoice = Field(default="auto", description="Device.")
    steps: int | None = Field(default=None, ge=0, le=100000, description="Override preset steps.")
    size: int | None = Field(
        default=None, ge=32, le=4096, description="Override the preset's working resolution (px)."
    )
    consistency_weight: float | None = Field(
        default=None, ge=0, le=1e6, description="Override λ, the weight of the classifier term."
    )
    detail: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of the art's own fine detail laid over the pretrained network's "
        "output in print, where the guided upsampling did not already carry it (0: the "
        "network's look alone, 1: every line of the art).",
    )
    keep: Keep = Field(default="auto", description=f"{KEEP_HELP} (every panel, unless it says "
                       "otherwise).")
    element_colours: ElementColoursChoice = Field(
        default="auto", description=f"{COLOURS_HELP}; auto keeps those of characters and props "
        "and restyles those of settings, the scenes a style is there to change (every element, "
        "unless it or its panel says otherwise)."
    )
    clip_model: str = Field(default="ViT-B-32", description="open_clip architecture name.")
    clip_pretrained: str | None = Field(
        default=None, description="open_clip pretrained tag, loaded from the local cache."
    )
    clip_checkpoint: str | None = Field(
        default=None, description="Local CLIP checkpoint file (safetensors or weights-only torch)."
    )


class Element(Strict):
    """`[elements.<id>]`: a recurring character, setting or prop."""

    kind: Literal["character", "setting", "prop"] = Field(description="What the element is.")
    name: str | None = Field(default=None, max_length=200, description="Display name.")
    description: str = Field(default="", max_length=2000, description="Free text for the author.")
    references: list[str] = Field(
        min_length=1, max_length=64, description="Reference drawings of this element."
    )
    strength: float | None = _strength(
        None, "inside this element's region in every panel that gives it one, with a soft edge; "
        "overrides the panel's")
    colours: ElementColours | None = Field(
        default=None, description=f"{COLOURS_HELP} (this element, unless a panel says otherwise; "
        "overrides [build]'s)."
    )


def _check_region(box: list[float]) -> list[float]:
    x, y, w, h = box
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1):
        raise ValueError("a region is [x, y, w, h] fractions: 0 <= x, y < 1 and 0 < w, h <= 1")
    if x + w > 1.0001 or y + h > 1.0001:
        raise ValueError("the region reaches outside the art (x + w and y + h must be <= 1)")
    return box


Region = Annotated[
    list[float],
    Field(min_length=4, max_length=4, description="[x, y, width, height] as fractions of the art."),
    AfterValidator(_check_region),
]


BalloonKind = Literal["speech", "thought", "caption", "sfx", "whisper", "shout"]


class Balloon(Strict):
    """One balloon, caption or sound effect in a panel."""

    kind: BalloonKind = Field(
        default="speech", description="speech, thought, whisper, shout, caption or sfx."
    )
    speaker: str | None = Field(default=None, description="Element id the tail points at.")
    text: str = Field(min_length=1, max_length=20000, description="The lettered text.")
    tail: Literal["auto", "none", "left", "right", "bottom-left", "bottom-right", "top"] | None = (
        Field(default=None, description="Tail hint when the speaker has no region.")
    )
    at: list[float] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Preferred balloon centre [x, y] as fractions of the panel.",
    )
    writing: Literal["horizontal", "vertical"] | None = Field(
        default=None,
        description="horizontal or vertical lettering for this balloon (sound effects stay horizontal).",
    )
    language: LanguageTag | None = Field(
        default=None,
        description="Language of this balloon when it differs from its page's (sets its fonts, "
        "hyphenation and default writing).",
    )
    line_spacing: float | None = Field(
        default=None, ge=0.8, le=3.0,
        description="Line (column) spacing as a multiple of the font size (overrides [lettering]).",
    )
    padding: float | None = Field(
        default=None, ge=0.0, le=36.0,
        description="Space between the text and the balloon's outline, in points.",
    )
    path: Literal["arc"] | list[list[float]] | None = Field(
        default=None,
        description='Sound effects only: letters set along a path, "arc" or [[x, y], ...] '
        "as fractions of the panel (two points or more).",
    )

    @field_validator("at")
    @classmethod
    def _at_in_unit_square(cls, at: list[float] | None) -> list[float] | None:
        if at is not None and not all(0 <= v <= 1 for v in at):
            raise ValueError("at must be [x, y] fractions of the panel, between 0 and 1")
        return at

    @field_validator("text")
    @classmethod
    def _text_not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("balloon text is blank; write the words, or remove the balloon")
        return text

    @model_validator(mode="after")
    def _speaker_fits_kind(self) -> Balloon:
        if self.kind in ("caption", "sfx") and self.speaker is not None:
            raise ValueError(f"a {self.kind} has no speaker; remove `speaker` or use kind = \"speech\"")
        return self

    @model_validator(mode="after")
    def _path_is_for_sound_effects(self) -> Balloon:
        if self.path is None:
            return self
        if self.kind != "sfx":
            raise ValueError('only a sound effect follows a path; remove `path` or use kind = "sfx"')
        if isinstance(self.path, list) and (
            len(self.path) < 2
            or any(len(p) != 2 or not all(0 <= v <= 1 for v in p) for p in self.path)
        ):
            raise ValueError("path must be \"arc\" or two or more [x, y] points, fractions of "
                             "the panel between 0 and 1")
        return self


class Panel(Strict):
    """`[[page.panel]]`: one panel of concept art."""

    art: str = Field(description="The panel's concept art, a path inside the project.")
    elements: list[str] = Field(
        default_factory=list, description="Elements present in this panel (p̂ = 1); others are 0."
    )
    regions: dict[str, Region] = Field(
        default_factory=dict,
        description="Optional element boxes, {id = [x, y, w, h]} in 0..1; for a present element "
        "without one the build finds a box from its classifier's activation map.",
    )
    direction: str = Field(default="", max_length=2000, description="Text direction for this panel.")
    style: str | int | StyleMix | None = Field(
        default=None, description="Pretrained-network style for this panel (overrides [comic])."
    )
    strength: float | None = _strength(None, "this panel; overrides its page's and [comic]'s")
    keep: Keep | None = Field(default=None, description=f"{KEEP_HELP} (this panel; overrides "
                              "[build]'s).")
    element_colours: ElementColours | None = Field(
        default=None, description=f"{COLOURS_HELP} (every element in this panel; overrides the "
        "elements' own and [build]'s, e.g. restyle for a flashback in the style's colours)."
    )
    focus: list[float] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="Focal point [x, y] in 0..1 kept in view when the art is cropped to its frame "
        "(default: the centre of the panel's regions, else of the art).",
    )
    balloons: list[Balloon] = Field(default_factory=list, description="Balloons, in reading order.")

    @field_validator("focus")
    @classmethod
    def _focus_in_unit_square(cls, focus: list[float] | None) -> list[float] | None:
        if focus is not None and not all(0 <= v <= 1 for v in focus):
            raise ValueError("focus must be [x, y] fractions between 0 and 1")
        return focus


class Page(Strict):
    """`[[page]]`: one printed page."""

    layout: str = Field(description="Layout template name, e.g. grid-2x2 or three-tier.")
    gutter: str | float | None = Field(default=None, description="Space between panels.")
    margin: str | float | None = Field(default=None, description="Outer margin of the panel area.")
    panel: list[Panel] = Field(min_length=1, description="The page's panels in reading order.")
    strength: float | None = _strength(None, "this page's panels; overrides [comic]'s")
    writing: Literal["horizontal", "vertical"] | None = Field(
        default=None,
        description="horizontal or vertical lettering on this page (overrides [comic]).",
    )
    language: LanguageTag | None = Field(
        default=None,
        description="Language of this page's lettering when it differs from [comic] language.",
    )

    @field_validator("gutter", "margin")
    @classmethod
    def _lengths(cls, value: str | float | None) -> str | float | None:
        if value is not None:
            _check_length(value, 0, 144, "gutter/margin")
        return value


class LayoutDefaults(Strict):
    """`[layout]`: defaults for every page."""

    gutter: str | float = Field(default="0.125in", description="Space between panels.")
    margin: str | float = Field(default="0.375in", description="Outer margin around the panels.")

    @field_validator("gutter", "margin")
    @classmethod
    def _lengths(cls, value: str | float) -> str | float:
        _check_length(value, 0, 144, "gutter/margin")
        return value


FontTable = dict[BalloonKind | Literal["default"], str]


class LanguageLettering(Strict):
    """`[lettering.languages.<tag>]`: what one language's balloons are lettered with."""

    fonts: FontTable = Field(
        default_factory=dict,
        description="A TrueType font file (inside the project) per balloon kind, or `default` "
        "for all, for balloons in this language; tried before [lettering.fonts].",
    )


class Lettering(Strict):
    """`[lettering]`: fonts and spacing for every balloon."""

    fonts: FontTable = Field(
        default_factory=dict,
        description="A TrueType font file (inside the project) per balloon kind, or `default` "
        "for all; comicc's fonts still letter the characters it lacks.",
    )
    languages: dict[LanguageTag, LanguageLettering] = Field(
        default_factory=dict,
        description="Fonts per language tag (`ja`, `ar`, `pt-BR`): a balloon in pt-BR takes "
        "pt-BR's fonts, then pt's, then [lettering.fonts].",
    )
    line_spacing: float = Field(
        default=1.2, ge=0.8, le=3.0, description="Line spacing as a multiple of the font size."
    )

    def font_files(self) -> list[tuple[tuple[str, ...], str]]:
        """Every font file named, with the keys that name it (for checks and cache keys)."""
        named = [(("lettering", "fonts", kind), path) for kind, path in self.fonts.items()]
        for tag, table in self.languages.items():
            named += [(("lettering", "languages", tag, "fonts", kind), path)
                      for kind, path in table.fonts.items()]
        return named

    def font_chain(self, language: str, kind: str) -> list[str]:
        """The font files for a balloon, most specific first: its language's (the full tag,
        then the primary language) kind font and default, then the book's."""
        wanted = language.lower().replace("_", "-")
        tables = [t for tag, t in self.languages.items() if tag.lower().replace("_", "-") == wanted]
        tables += [t for tag, t in self.languages.items()
                   if tag.lower().replace("_", "-") == primary_language(language) != wanted]
        chain: list[str] = []
        for fonts in [t.fonts for t in tables] + [self.fonts]:
            for key in (kind, "default"):
                path = fonts.get(key)  # type: ignore[call-overload]
                if path is not None and path not in chain:
                    chain.append(path)
        return chain


class Comic(Strict):
    """The whole manifest, `comic.toml`."""

    comic: ComicMeta
    build: BuildOptions = Field(default_factory=BuildOptions)
    layout: LayoutDefaults = Field(default_factory=LayoutDefaults)
    lettering: Lettering = Field(default_factory=Lettering)
    elements: dict[ElementId, Element] = Field(default_factory=dict)
    page: list[Page] = Field(min_length=1, max_length=2000, description="Pages in order.")

    def panels(self) -> list[tuple[int, int, Panel]]:
        """All panels as (page_index, panel_index, panel), 0-based, in reading order."""
        return [(p, j, panel) for p, page in enumerate(self.page) for j, panel in enumerate(page.panel)]

    def element_ids(self) -> list[str]:
        return list(self.elements)
