"""Balloon and manifest text from every script, of absurd length, or full of control characters."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from tests.conftest import BASE_MANIFEST, write_project
from tests.hostile.conftest import edit, line_of

SPEECH = '"Is anyone up there?"'
SPEECH_LINE = line_of(BASE_MANIFEST, SPEECH)


def _build(cli, root: Path, text: str):
    manifest = edit(SPEECH, text)
    write_project(root, manifest)
    result = cli("build", root, "--backend", "none", "--no-report")
    assert result.code == 0, result.err
    return result


def _pdf_text(root: Path) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(root / f"{root.name}.pdf")
    try:
        return "".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def _draws_nothing(char: str) -> bool:
    """Spaces, joiners and variation selectors: nothing of their own to draw or to miss."""
    return char.isspace() or unicodedata.category(char) == "Cf" or 0xFE00 <= ord(char) <= 0xFE0F


def _lettered_or_reported(result, root: Path, text: str) -> None:
    """Every character is in the PDF, or a warning at the balloon names what was left out."""
    # Extraction splits ligatures and may compose or decompose accents, so both sides are
    # decomposed; a character is judged by its compatibility form ("？" may read back as
    # "?") but named by its own code point, the one the author typed.
    in_pdf = unicodedata.normalize("NFKD", _pdf_text(root))
    missing = [c for c in text if not _draws_nothing(c)
               and not all(n in in_pdf for n in unicodedata.normalize("NFKD", c))]
    if missing:
        assert f"comic.toml:{SPEECH_LINE}:" in result.err, result.err
        assert "warning[font]" in result.err and "at page[1].panel[1].balloons[1]" in result.err
        for char in missing:
            assert f"U+{ord(char):04X}" in result.err, (char, result.err)


@pytest.mark.parametrize("text", [
    "Hi 👋🏽 — 👨‍👩‍👧 🏳️‍🌈!",
    "誰かいますか？灯台守さん！",
    "مرحبا، هل من أحد هناك؟",
    "שלום, יש מישהו?",
    "Z\u0351\u036b\u0343A\u0357\u0334L\u0368\u0320G\u0311\u033bO\u0342\u0328",
    "e\u0301 vs \u00e9, n\u0303, \ufb01 ligature, \u00a0nbsp, zero\u200bwidth",
], ids=["emoji", "cjk", "arabic", "hebrew", "zalgo", "combining"])
@pytest.mark.parametrize("system_fonts", [True, False], ids=["system-fonts", "no-system-fonts"])
def test_any_script_is_lettered_or_reported(cli, tmp_path, monkeypatch, text, system_fonts) -> None:
    if not system_fonts:  # as on a machine with no fonts beyond comicc's own
        from comicc.page import fonts

        monkeypatch.setattr(fonts, "_system_font_for", lambda char: None)
    result = _build(cli, tmp_path, '"' + text + '"')
    _lettered_or_reported(result, tmp_path, text)


def _char_x(root: Path, char: str) -> float:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(root / f"{root.name}.pdf")
    try:
        page = pdf[0].get_textpage()
        for i in range(page.count_chars()):
            if page.get_text_range(i, 1) == char:
                return page.get_charbox(i)[0]
    finally:
        pdf.close()
    raise AssertionError(f"{char!r} not in the PDF")


def test_right_to_left_text_runs_right_to_left(cli, tmp_path) -> None:
    _build(cli, tmp_path, '"שלום"')
    # ש is the first letter read; in a right-to-left line it stands right of ל.
    assert _char_x(tmp_path, "ש") > _char_x(tmp_path, "ל")


BIDI_MARKS = dict.fromkeys(range(0x202A, 0x202F))  # embedding marks pdftotext adds


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler's pdftotext")
@pytest.mark.parametrize("speech, caption, sfx", [
    ("שלום יש מישהו", "תשעים מייל מהחוף", "בום"),
    ("مرحبا هل من أحد هناك", "تسعون ميلا من الشاطئ", "بوم"),  # لا is one ligature glyph
], ids=["hebrew", "arabic"])
def test_pdftotext_reads_right_to_left_balloons_in_logical_order(cli, tmp_path, speech, caption,
                                                                  sfx) -> None:
    manifest = (edit(SPEECH, f'"{speech}"').replace("Ninety miles from shore.", caption)
                .replace('"KRAKOOM"', f'"{sfx}"'))
    write_project(tmp_path, manifest)
    assert cli("build", tmp_path, "--backend", "none", "--no-report").code == 0
    out = subprocess.run(["pdftotext", tmp_path / f"{tmp_path.name}.pdf", "-"], check=True,
                         capture_output=True, text=True).stdout.translate(BIDI_MARKS)
    assert " ".join(out.split()) == " ".join([speech, caption, sfx])


@pytest.mark.parametrize("text", [" ".join(["word"] * 1000), "x" * 5000],
                         ids=["5000-chars-of-words", "one-5000-char-word"])
def test_overlong_balloon_warns_instead_of_clipping_silently(cli, tmp_path, text) -> None:
    result = _build(cli, tmp_path, '"' + text + '"')
    assert f"comic.toml:{SPEECH_LINE}:5: warning[lettering]: speech text does not fit" in result.err
    assert "left out" in result.err
    assert "at page[1].panel[1].balloons[1]\n" in result.err


def test_control_characters_in_a_balloon_are_reported_escaped(cli, tmp_path) -> None:
    text = '"bell\\u0007 and \\u001b[31mred\\u001b[0m, del\\u007f, tab\\t, new\\nline"'
    result = _build(cli, tmp_path, text)  # the cli fixture refuses raw control characters
    assert "'\\x07' (U+0007)" in result.err and "'\\x1b' (U+001B)" in result.err


def test_terminal_escapes_in_the_title_do_not_reach_the_terminal(cli, tmp_path) -> None:
    manifest = edit('title = "Test Comic"', 'title = "\\u001b]0;pwned\\u0007Title\\u202e"')
    write_project(tmp_path, manifest)
    assert cli("build", tmp_path, "--backend", "none").code == 0


E = "\\u001b[31m"


@pytest.mark.parametrize("old, new, shown", [
    ('elements = ["tower"]', f'elements = ["tow{E}er"]', "unknown element `tow\\x1b[31mer`"),
    ('backend = "none"', f'backend = "none"\n"evil{E}" = 1', "unknown key `evil\\x1b[31m`"),
    ('backend = "none"', f'backend = "gr{E}am"', "`gr\\x1b[31mam` is not one of"),
    ('art = "art/p2.png"', f'art = "art/{E}p2.png"', "file `art/\\x1b[31mp2.png` not found"),
    ('{ speaker = "mara"', '{ speaker = "m\\u0007ara"', "unknown speaker `m\\x07ara`"),
    ('layout = "grid-2x2"', 'layout = "grid\\u202e2x2"', "unknown layout `grid\\u202e2x2`"),
    ('elements = ["tower"]', 'elements = ["to\\u009bwer"]', "unknown element `to\\x9bwer`"),
    ('elements = ["tower"]', 'elements = ["to\\u2028wer"]', "unknown element `to\\u2028wer`"),
    ('elements = ["tower"]', 'elements = ["to\\nwer"]', "unknown element `to\\nwer`"),
], ids=["element", "key", "enum", "path", "bell", "bidi-override", "c1-csi", "line-sep",
        "newline"])
def test_author_text_in_diagnostics_is_escaped(cli, tmp_path, old, new, shown) -> None:
    manifest = edit(old, new)
    write_project(tmp_path, manifest)
    result = cli("check", tmp_path)  # the cli fixture refuses raw control characters
    assert result.code == 2
    assert shown in result.err, result.err
    assert len(result.located()) == 1
