"""Letterers' controls: a font per balloon kind, line spacing, padding, sound effects on a path."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from comicc.cli import main
from comicc.manifest.diagnostics import DiagnosticSink
from comicc.manifest.models import Balloon, Lettering, Panel
from comicc.page.art import cover_crop
from comicc.page.fonts import SYSTEM_PREFIX
from comicc.page.geometry import Rect
from comicc.page.letter import LetteringOptions, PanelArt, letter_panel
from tests.conftest import BASE_MANIFEST, write_project

from .test_letter import FRAME, LIVE, letter

# A TrueType font comicc does not ship (one of the same name would stand in for it).
SERIF = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")
MONO = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf")
needs_serif = pytest.mark.skipif(not SERIF.exists(), reason="needs Debian fonts-dejavu-core")
needs_mono = pytest.mark.skipif(not MONO.exists(), reason="needs Debian fonts-dejavu-core")


def letter_with(balloons: list[dict], options: LetteringOptions):
    panel = Panel.model_validate({"art": "a.png", "balloons": balloons})
    art = PanelArt(0, FRAME, cover_crop((600, 800), FRAME), (600, 800))
    sink = DiagnosticSink()
    return letter_panel(art, panel, LIVE, "ltr", ("page", 0, "panel", 0), sink, options), sink


def fonts_of(plan) -> set[str]:
    return {glyph.font for line in plan.lines for glyph in line.glyphs}


def fonts_option(fonts: dict, languages: dict | None = None, language: str = "en"):
    """Options whose `[lettering]` names font files by absolute path."""
    lettering = Lettering.model_validate({"fonts": fonts, "languages": languages or {}})
    return LetteringOptions(language=language, lettering=lettering, project_dir=Path("/"))


@needs_serif
def test_a_font_per_balloon_kind() -> None:
    key = SYSTEM_PREFIX + str(SERIF)
    options = fonts_option({"caption": str(SERIF)})
    (caption, speech), sink = letter_with(
        [{"kind": "caption", "text": "Ninety miles"}, {"text": "Hello there"}], options
    )
    assert not sink.items
    assert fonts_of(caption) == {key}
    assert fonts_of(speech) == {"ComicNeue"}
    # `default` letters every kind without its own font.
    (speech,), _ = letter_with([{"text": "Hello"}], fonts_option({"default": str(SERIF)}))
    assert fonts_of(speech) == {key}


@needs_serif
@needs_mono
def test_a_font_per_language_comes_before_the_books_kind_font() -> None:
    serif, mono = SYSTEM_PREFIX + str(SERIF), SYSTEM_PREFIX + str(MONO)
    options = fonts_option(
        {"caption": str(SERIF)}, {"de": {"fonts": {"default": str(MONO)}}}, language="de"
    )
    (caption,), _ = letter_with([{"kind": "caption", "text": "Neunzig Meilen"}], options)
    assert fonts_of(caption) == {mono}
    # A balloon in another language than its page's takes that language's chain.
    (english,), _ = letter_with(
        [{"kind": "caption", "text": "Ninety miles", "language": "en"}], options
    )
    assert fonts_of(english) == {serif}
    # A regional tag falls back to its primary language's table.
    (swiss,), _ = letter_with([{"text": "Gruezi", "language": "de-CH"}], options)
    assert fonts_of(swiss) == {mono}


def test_font_chain_is_most_specific_first() -> None:
    lettering = Lettering.model_validate(
        {
            "fonts": {"speech": "k.ttf", "default": "d.ttf"},
            "languages": {
                "pt": {"fonts": {"speech": "pt-k.ttf", "default": "pt-d.ttf"}},
                "pt-BR": {"fonts": {"default": "br-d.ttf"}},
            },
        }
    )
    assert lettering.font_chain("pt_br", "speech") == [
        "br-d.ttf", "pt-k.ttf", "pt-d.ttf", "k.ttf", "d.ttf"
    ]
    assert lettering.font_chain("en", "shout") == ["d.ttf"]
    assert [keys for keys, _ in lettering.font_files()][-1] == (
        "lettering", "languages", "pt-BR", "fonts", "default"
    )


def test_a_language_tag_is_checked() -> None:
    for bad in ("english!", "j", "ja--JP", "日本"):
        with pytest.raises(ValidationError, match="is not a language tag"):
            Lettering.model_validate({"languages": {bad: {"fonts": {}}}})
    with pytest.raises(ValidationError, match="is not a language tag"):
        Balloon.model_validate({"text": "hi", "language": "en us"})
    Balloon.model_validate({"text": "hi", "language": "zh-Hant-TW"})


def test_line_spacing_and_padding_grow_the_balloon() -> None:
    text = "The lamp can wait a minute, you cannot wait at all tonight"
    (plain,), _ = letter([{"text": text}])
    (spaced,), _ = letter([{"text": text, "line_spacing": 2.0}])
    (padded,), _ = letter([{"text": text, "padding": 14}])
    assert len(plain.lines) > 1
    gaps = [b.baseline - a.baseline for a, b in zip(plain.lines, plain.lines[1:], strict=False)]
    wide = [b.baseline - a.baseline for a, b in zip(spaced.lines, spaced.lines[1:], strict=False)]
    assert min(wide) / spaced.lines[0].size > max(gaps) / plain.lines[0].size + 0.7
    assert padded.box.w * padded.box.h > plain.box.w * plain.box.h


def test_sfx_on_an_arc_turns_its_letters_along_it() -> None:
    (plan,), sink = letter([{"kind": "sfx", "text": "KRAKOOM", "path": "arc"}])
    assert not sink.items
    (line,) = plan.lines
    angles = [glyph.angle for glyph in line.glyphs]
    assert angles[0] > 5 and angles[-1] < -5  # up at the start, down at the end
    assert angles == sorted(angles, reverse=True)
    assert abs(angles[3]) < 5  # the middle letter is level
    ys = [glyph.y for glyph in line.glyphs]
    assert ys[3] < ys[0] and ys[3] < ys[-1]  # the middle stands highest
    grown = plan.box.inset(-0.5 * line.size)
    assert all(grown.contains(Rect(glyph.x, glyph.y, 0, 0)) for glyph in line.glyphs)


def test_sfx_follows_the_authors_points() -> None:
    path = [[0.1, 0.9], [0.9, 0.1]]  # up and to the right, at 45 degrees on a square-ish frame
    (plan,), _ = letter([{"kind": "sfx", "text": "ZOOM", "path": path}])
    frame = FRAME
    expected = math.degrees(math.atan2(0.8 * frame.h, 0.8 * frame.w))
    for glyph in plan.lines[0].glyphs:
        assert glyph.angle == pytest.approx(expected)


def test_a_path_is_only_for_sound_effects_and_needs_two_points() -> None:
    with pytest.raises(ValidationError, match="only a sound effect follows a path"):
        Balloon.model_validate({"text": "hi", "path": "arc"})
    with pytest.raises(ValidationError, match="two or more"):
        Balloon.model_validate({"kind": "sfx", "text": "hi", "path": [[0.5, 0.5]]})


@needs_serif
def test_lettering_fonts_from_the_manifest_reach_the_pdf(tmp_path: Path, capsys) -> None:
    manifest = BASE_MANIFEST.replace(
        "[build]", '[lettering]\nfonts = { caption = "fonts/caption.ttf" }\n\n[build]'
    )
    write_project(tmp_path, manifest)
    (tmp_path / "fonts").mkdir()
    shutil.copy(SERIF, tmp_path / "fonts" / "caption.ttf")
    assert main(["build", str(tmp_path), "--backend", "none", "--no-report"]) == 0
    pdf = (tmp_path / f"{tmp_path.name}.pdf").read_bytes()
    assert b"DejaVuSerif" in pdf


def test_a_lettering_font_that_is_not_truetype_is_an_authors_error(tmp_path: Path, capsys) -> None:
    manifest = BASE_MANIFEST.replace(
        "[build]", '[lettering]\nfonts = { shout = "fonts/broken.ttf" }\n\n[build]'
    )
    write_project(tmp_path, manifest)
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "broken.ttf").write_text("not a font")
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    print(err)
    assert "error[font]: `fonts/broken.ttf` is not a TrueType font" in err


def test_a_language_font_is_checked_where_it_is_named(tmp_path: Path, capsys) -> None:
    manifest = BASE_MANIFEST.replace(
        "[build]",
        '[lettering.languages.ja.fonts]\nspeech = "fonts/missing.ttf"\n'
        'shout = "fonts/broken.ttf"\n\n[build]',
    )
    write_project(tmp_path, manifest)
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "broken.ttf").write_text("not a font")
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fonts/missing.ttf" in err and "lettering.languages.ja.fonts.speech" in err
    assert "error[font]: `fonts/broken.ttf` is not a TrueType font" in err
    assert "lettering.languages.ja.fonts.shout" in err


def test_a_bad_language_tag_is_an_authors_error_on_its_line(tmp_path: Path, capsys) -> None:
    manifest = BASE_MANIFEST.replace(
        "[build]", '[lettering.languages."Japanese!".fonts]\ndefault = "x.ttf"\n\n[build]'
    )
    write_project(tmp_path, manifest)
    assert main(["check", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    print(err)
    assert "is not a language tag" in err and "comic.toml:1:1" not in err


@needs_mono
def test_a_language_font_from_the_manifest_reaches_the_pdf(tmp_path: Path) -> None:
    manifest = BASE_MANIFEST.replace(
        "[build]", '[lettering.languages.en.fonts]\ndefault = "fonts/mono.ttf"\n\n[build]'
    )
    write_project(tmp_path, manifest)
    (tmp_path / "fonts").mkdir()
    shutil.copy(MONO, tmp_path / "fonts" / "mono.ttf")
    assert main(["build", str(tmp_path), "--backend", "none", "--no-report"]) == 0
    assert b"DejaVuSansMono" in (tmp_path / f"{tmp_path.name}.pdf").read_bytes()


@pytest.mark.parametrize(
    "text", ["تسعون ميلا من الشاطئ، انطفأ الضوء.", "Ninety miles from shore, the light went out."]
)
def test_a_caption_keeps_its_padding_on_both_sides_in_either_direction(text) -> None:
    (caption,), _ = letter([{"kind": "caption", "text": text}])
    padding, box = 4.0, caption.box  # the caption style's padding
    assert len(caption.lines) > 1
    ends = [(line.x, line.x + sum(g.advance for g in line.glyphs)) for line in caption.lines]
    assert min(left for left, _ in ends) == pytest.approx(box.x + padding)
    assert max(right for _, right in ends) == pytest.approx(box.right - padding)
    rtl = text[0] == "ت"
    edge = [right if rtl else left for left, right in ends]  # lines start at the reading side
    assert edge == pytest.approx([box.right - padding if rtl else box.x + padding] * len(ends))
