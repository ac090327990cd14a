"""Stage inputs are structured keys: labels are for people, never read back as data."""

from __future__ import annotations

from comicc.engine.engine import InputKey, labelled
from comicc.engine.stages import CLASSIFIERS, GLOBAL_DIRECTION


def _inputs(art: str = "a", classifiers: str = "c", direction: str = "d") -> dict[InputKey, str]:
    # Labels a parser of "panel 1.2 art" could not read: the panel travels as a field.
    return {CLASSIFIERS: classifiers, GLOBAL_DIRECTION: direction,
            InputKey("art of the first panel", "1.1"): "one",
            InputKey("art of the second panel", "1.2"): art}


def test_the_warm_start_finds_edited_panels_whatever_their_labels() -> None:
    from comicc.engine.style_stage import changed_panels

    before = labelled(_inputs())
    assert changed_panels(_inputs(art="edited"), before) == ["1.2"]
    # New classifiers that follow from the edited panel do not make the edit global...
    assert changed_panels(_inputs(art="edited", classifiers="new"), before) == ["1.2"]
    # ...but a shared input (new classifiers from a reference, a direction) touches every panel.
    assert changed_panels(_inputs(classifiers="new"), before) == ["1.1", "1.2"]
    assert changed_panels(_inputs(direction="dusk"), before) == ["1.1", "1.2"]
    assert changed_panels(_inputs(), before) == []


def test_the_cache_records_inputs_by_label() -> None:
    assert labelled({InputKey.of_panel("2.1", "art"): "h"}) == {"panel 2.1 art": "h"}
