"""Strength resolution: element region, panel, page, comic — the most specific wins."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from comicc.manifest.checks import check_comic
from comicc.manifest.diagnostics import DiagnosticSink
from comicc.manifest.models import Comic
from comicc.manifest.strength import panel_strength, panel_strengths

MANIFEST = """
[comic]
title = "Dials"
strength = 0.9

[elements.mara]
kind = "character"
references = ["art/mara.png"]
strength = 0.2

[elements.tower]
kind = "setting"
references = ["art/tower.png"]

[[page]]
layout = "grid-2x2"
strength = 0.6
  [[page.panel]]
  art = "art/p1.png"
  elements = ["mara", "tower"]
  regions = { mara = [0.1, 0.1, 0.5, 0.5] }
  strength = 0.3
  [[page.panel]]
  art = "art/p2.png"
  elements = ["mara"]

[[page]]
layout = "grid-2x2"
  [[page.panel]]
  art = "art/p3.png"
  elements = ["tower"]
"""


def _comic(text: str = MANIFEST) -> Comic:
    return Comic.model_validate(tomllib.loads(text))


def test_the_most_specific_level_wins() -> None:
    comic = _comic()
    first, second, third = panel_strengths(comic)
    assert (first.strength, first.source) == (0.3, "panel")
    assert [(e.element, e.box, e.strength) for e in first.elements] == [
        ("mara", (0.1, 0.1, 0.5, 0.5), 0.2)]
    # Mara is in panel 1.2 too, but without a region there: her strength has no place to act.
    assert (second.strength, second.source, second.elements) == (0.6, "page", ())
    assert (third.strength, third.source, third.elements) == (0.9, "comic", ())


def test_default_is_full_strength_everywhere() -> None:
    text = MANIFEST.replace("strength = 0.9\n", "").replace("strength = 0.2\n", "") \
        .replace("strength = 0.6\n", "").replace("  strength = 0.3\n", "")
    strengths = panel_strengths(_comic(text))
    assert all(s.full and s.strength == 1.0 and s.source == "comic" for s in strengths)
    assert not panel_strength(_comic(), 0, 0).full


def test_strength_outside_zero_to_one_is_rejected() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="less than or equal to 1"):
        _comic(MANIFEST.replace("strength = 0.6", "strength = 1.5"))


def test_element_strength_without_any_region_warns(tmp_path) -> None:
    text = MANIFEST.replace("  regions = { mara = [0.1, 0.1, 0.5, 0.5] }\n", "")
    sink = DiagnosticSink()
    check_comic(_comic(text), tmp_path, sink)
    warned = [d for d in sink.items if d.code == "strength-region"]
    assert len(warned) == 1 and warned[0].key_path == ("elements", "mara", "strength")
    sink = DiagnosticSink()
    check_comic(_comic(), tmp_path, sink)
    assert not [d for d in sink.items if d.code == "strength-region"]


def test_by_default_a_characters_own_colours_are_kept_and_a_settings_restyled() -> None:
    first, second, third = panel_strengths(_comic())  # mara: a character, tower: a setting
    assert (first.colours_kept, second.colours_kept, third.colours_kept) == (
        ("mara",), ("mara",), ())
    assert first.to_json()["colours_kept"] == ["mara"]
    assert _comic().build.element_colours == "auto"
    # An element's own choice wins over [build]'s.
    swapped = _comic(MANIFEST.replace('strength = 0.2\n', 'colours = "restyle"\n')
                     .replace('references = ["art/tower.png"]\n',
                              'references = ["art/tower.png"]\ncolours = "keep"\n'))
    assert [s.colours_kept for s in panel_strengths(swapped)] == [("tower",), (), ("tower",)]
    every = _comic(MANIFEST.replace('[comic]', '[build]\nelement_colours = "keep"\n\n[comic]'))
    assert [s.colours_kept for s in panel_strengths(every)] == [
        ("mara", "tower"), ("mara",), ("tower",)]
    # [build] restyles every element; one that says keep still keeps its own.
    build_restyles = _comic(MANIFEST.replace('[comic]', '[build]\nelement_colours = "restyle"\n\n'
                                             '[comic]')
                            .replace('strength = 0.2\n', 'colours = "keep"\n'))
    assert [s.colours_kept for s in panel_strengths(build_restyles)] == [("mara",), ("mara",), ()]


def test_an_unknown_colours_choice_is_rejected() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="'keep' or 'restyle'"):
        _comic(MANIFEST.replace('strength = 0.2\n', 'colours = "kept"\n'))


def test_a_panels_element_colours_decides_for_every_element_in_it() -> None:
    flashback = _comic(MANIFEST.replace('  strength = 0.3\n', '  strength = 0.3\n'
                                        '  element_colours = "restyle"\n'))
    assert [s.colours_kept for s in panel_strengths(flashback)] == [(), ("mara",), ()]
    # A panel that says keep keeps even an element that says restyle, and a setting.
    kept = _comic(MANIFEST.replace('strength = 0.2\n', 'colours = "restyle"\n')
                  .replace('  strength = 0.3\n', '  strength = 0.3\n  element_colours = "keep"\n'))
    assert [s.colours_kept for s in panel_strengths(kept)] == [("mara", "tower"), (), ()]
