"""Line breaking (UAX #14), hyphenation, and vertical writing for Japanese and Chinese."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from comicc.cli import main
from comicc.page import fonts
from comicc.page.fonts import Run
from comicc.page.letter import Setting, hyphenator_for, page_writing, words_of, wrap
from comicc.page.shaping import column_length, orientation, shape_column
from tests.conftest import BASE_MANIFEST, write_project
from tests.page.harfbuzz import KERN_LIGA, reference_font, reference_shaping

from .test_letter import letter

JAPANESE = "誰かいますか？灯台守のマラです。OKですか、Fathom？"


def cjk_font() -> str:
    key = fonts._system_font_for("誰")
    if key is None:
        pytest.skip("no TrueType CJK font installed (Debian fonts-droid-fallback has one)")
    return key


def test_cjk_breaks_between_characters_but_not_before_closing_punctuation() -> None:
    cjk_font()
    paragraphs, missing = words_of("誰かいますか？灯台守さん！", "regular")
    assert not missing
    units = ["".join(r.text for r in word.runs) for word in paragraphs[0]]
    assert units[:5] == ["誰", "か", "い", "ま", "す"]  # no spaces, yet a line may end anywhere
    assert "か？" in units and "ん！" in units  # never a line starting with ？ or ！
    lines = wrap(paragraphs, 10.0, 35.0, "regular")
    assert len(lines) > 2
    assert not any("".join(r.text for r in line.runs).startswith(("？", "！")) for line in lines)


def test_a_word_longer_than_its_line_is_hyphenated_where_the_language_allows() -> None:
    english = Setting("regular", hyphenator=hyphenator_for("en"))
    paragraphs, _ = words_of("A lighthouse keeper", english)
    lines = [
        "".join(r.text for r in line.runs) for line in wrap(paragraphs, 10.0, 40.0, english)
    ]
    assert lines == ["A light-", "house", "keeper"]
    # A word that fits its line is never hyphenated.
    assert [
        "".join(r.text for r in line.runs) for line in wrap(paragraphs, 10.0, 60.0, english)
    ] == ["A lighthouse", "keeper"]
    # Without patterns (Japanese has none), a word too long is broken between letters.
    assert hyphenator_for("ja") is None
    plain = ["".join(r.text for r in line.runs) for line in wrap(paragraphs, 10.0, 40.0, "regular")]
    assert not any(line.endswith("-") for line in plain) and "lighthouse" not in plain


def test_writing_mode_follows_language_and_the_most_specific_choice() -> None:
    assert page_writing("ja") == "vertical" and page_writing("zh-Hant") == "vertical"
    assert page_writing("en") == "horizontal"
    assert page_writing("ja", None, "horizontal") == "horizontal"  # page over language
    assert page_writing("en", "vertical", None, None) == "vertical"  # comic over language
    assert page_writing("ja", None, None, "horizontal") == "horizontal"  # balloon over all


def test_utr50_orientation_of_latin_kana_and_punctuation() -> None:
    assert [orientation(c) for c in "誰かア？A1、。「ー"] == [
        "U", "U", "U", "U", "R", "R", "Tu", "Tu", "R", "R"
    ]


def harfbuzz_vertical(font: str, text: str) -> list[tuple[int, float]]:
    buf = reference_shaping(font, text, "ttb", {"vert": False, "vrt2": False})
    upem = reference_font(font)[1]
    pairs = zip(buf.glyph_infos, buf.glyph_positions, strict=True)
    return [(i.codepoint, -p.y_advance / upem) for i, p in pairs]


def test_vertical_columns_match_harfbuzz_and_run_right_to_left() -> None:
    font = cjk_font()
    (plan,), sink = letter([{"text": JAPANESE, "writing": "vertical"}])
    assert not sink.items
    assert len(plan.lines) > 1
    xs = [line.x for line in plan.lines]
    assert xs == sorted(xs, reverse=True)  # the first column is the rightmost
    first = plan.lines[0]
    kana = [g for g in first.glyphs if g.font == font]
    want = harfbuzz_vertical(font, first.text)[: len(kana)]
    assert [(g.gid, round(g.advance / first.size, 6)) for g in kana] == [
        (gid, round(advance, 6)) for gid, advance in want
    ]
    ys = [g.y for g in first.glyphs]
    assert ys == sorted(ys)  # top to bottom
    # The Latin run is turned sideways; the kana stand upright.
    turned = {line.text[g.cluster] for line in plan.lines for g in line.glyphs if g.rotated}
    assert {"O", "K", "F", "a"} <= turned and not turned & set("誰かいます")


def test_a_column_sets_sideways_runs_along_it_and_moves_tu_punctuation() -> None:
    font = cjk_font()
    glyphs = shape_column((Run(font, "す。"), Run("ComicNeue", "OK")), 10.0)
    su, stop, o, k = glyphs
    assert not su.rotated and o.rotated and k.rotated
    assert stop.x > su.x  # the full stop stands right of the centre line...
    assert stop.y < su.y + 10.0  # ...and high in its em box, just below す
    assert o.y < k.y and o.x == k.x  # sideways letters follow each other down the column


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
def test_a_manga_page_reads_in_logical_order(tmp_path) -> None:
    """Japanese, right to left, B6: vertical balloons with a Latin run, text in order."""
    cjk_font()
    manifest = (
        BASE_MANIFEST.replace(
            'title = "Test Comic"',
            'title = "Test Comic"\nlanguage = "ja"\nreading = "rtl"\nformat = "manga-b6"',
        )
        .replace('"Is anyone up there?"', f'"{JAPANESE}"')
        .replace("Ninety miles from shore.", "岸から90マイル!?")
    )
    write_project(tmp_path, manifest)
    assert main(["build", str(tmp_path), "--backend", "none", "--no-report"]) == 0
    out = subprocess.run(
        ["pdftotext", "-raw", tmp_path / f"{tmp_path.name}.pdf", "-"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert JAPANESE in "".join(out.split())
    assert "岸から90マイル!?" in "".join(out.split())


def test_tate_chu_yoko_sets_two_digits_across_the_column_as_harfbuzz_shapes_them() -> None:
    font, size = cjk_font(), 10.0
    glyphs = shape_column((Run(font, "第"), Run("ComicNeue", "12"), Run(font, "話")), size)
    dai, one, two, wa = glyphs
    assert not one.rotated and not two.rotated  # across the column, not turned
    assert one.y == two.y and two.x > one.x  # side by side on one baseline
    want = harfbuzz_horizontal("ComicNeue", "12")
    assert [(g.gid, round(g.advance / size, 6)) for g in (one, two)] == want
    assert two.x - one.x == pytest.approx(one.advance)
    width = one.advance + two.advance
    assert one.x == pytest.approx(-width / 2)  # centred on the column
    assert dai.y < one.y < wa.y
    assert wa.y - dai.y == pytest.approx(dai.advance + size)  # the pair takes one em square
    assert column_length((Run(font, "第"), Run("ComicNeue", "12"), Run(font, "話")), size) == (
        pytest.approx(dai.advance + size + wa.advance)
    )


def test_longer_numbers_and_latin_words_stay_sideways() -> None:
    font = cjk_font()
    for latin in ("2024", "OK", "1a", "12 "):
        glyphs = shape_column((Run(font, "年"), Run("ComicNeue", latin), Run(font, "年")), 10.0)
        assert all(g.rotated for g in glyphs[1:-1]), latin
    mark = shape_column((Run("ComicNeue", "!?"),), 10.0)[0]
    assert not mark.rotated  # "!?" alone is set across too


def harfbuzz_horizontal(font: str, text: str) -> list[tuple[int, float]]:
    buf = reference_shaping(font, text, None, KERN_LIGA)
    upem = reference_font(font)[1]
    pairs = zip(buf.glyph_infos, buf.glyph_positions, strict=True)
    return [(i.codepoint, round(p.x_advance / upem, 6)) for i, p in pairs]
