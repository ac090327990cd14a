"""The artist's dials: how strongly the style reaches each panel, and each element in it, and
what of the art it keeps (`keep`, and each element's own colours).

`strength` may be set in `[comic]`, `[[page]]`, `[[page.panel]]` and `[elements.X]`; the
most specific wins. An element's strength applies inside its region of a panel (the
panel's `regions` box), so it only acts in panels that give the element a region.
Resolved once here, as plain data: the style stage turns it into pixels, the cache keys
and the report read it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from comicc.manifest.choices import Keep
from comicc.manifest.models import Comic, Element, Panel

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ElementStrength:
    """An element's own strength inside its box [x, y, w, h] (fractions of the panel)."""

    element: str
    box: Box
    strength: float


@dataclass(frozen=True)
class PanelStrength:
    """One panel's resolved strength: everywhere, then each element's inside its region."""

    strength: float
    source: str  # the level that set it: "comic", "page" or "panel"
    elements: tuple[ElementStrength, ...] = ()
    keep: Keep = "none"  # what of the art the restyle keeps (comicc.ml.keep): panel, else [build]
    # The elements in the panel whose own colours the print keeps (comicc.ml.palette): the
    # panel's `element_colours`, else each element's `colours`, else [build]'s.
    colours_kept: tuple[str, ...] = ()

    @property
    def full(self) -> bool:
        """Whether the panel gets the full style everywhere (the build as it was without dials)."""
        return self.strength == 1.0 and all(e.strength == 1.0 for e in self.elements)

    def to_json(self) -> dict[str, object]:
        return {"strength": self.strength, "source": self.source,
                "elements": {e.element: e.strength for e in self.elements}, "keep": self.keep,
                "colours_kept": list(self.colours_kept)}


def panel_strength(comic: Comic, page_index: int, panel_index: int) -> PanelStrength:
    """Resolve one panel's strength, most specific first: element region, panel, page, comic."""
    page = comic.page[page_index]
    panel = page.panel[panel_index]
    if panel.strength is not None:
        strength, source = panel.strength, "panel"
    elif page.strength is not None:
        strength, source = page.strength, "page"
    else:
        strength, source = comic.comic.strength, "comic"
    elements = tuple(
        ElementStrength(name, tuple(panel.regions[name]), element.strength)  # type: ignore[arg-type]
        for name in dict.fromkeys(panel.elements)
        if (element := comic.elements.get(name)) is not None and element.strength is not None
        and name in panel.regions)
    keep = panel.keep if panel.keep is not None else comic.build.keep
    return PanelStrength(strength, source, elements, keep, colours_kept(comic, panel))


def colours_kept(comic: Comic, panel: Panel) -> tuple[str, ...]:
    """Of the panel's elements, those whose own colours the print keeps: the panel's
    `element_colours` for all of them, else each element's `colours`, else [build]'s
    (`auto`: a character's or a prop's, not a setting's)."""
    default = comic.build.element_colours

    def kept(element: Element) -> bool:
        choice = panel.element_colours or element.colours or default
        return choice == "keep" or (choice == "auto" and element.kind != "setting")

    return tuple(name for name in dict.fromkeys(panel.elements)
                 if (element := comic.elements.get(name)) is not None and kept(element))


def panel_strengths(comic: Comic) -> list[PanelStrength]:
    """Every panel's resolved strength, in reading order."""
    return [panel_strength(comic, p, j) for p, j, _ in comic.panels()]


def unplaced_elements(comic: Comic) -> list[str]:
    """Elements with a strength that no panel gives a region: their strength acts nowhere."""
    placed = {name for _, _, panel in comic.panels() for name in panel.regions}
    return [name for name, element in comic.elements.items()
            if element.strength is not None and name not in placed]
