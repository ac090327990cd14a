"""One diagnostic type for every author-facing error and warning, rendered in one place."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]
KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Diagnostic:
    """A located message for the author: where, what, and how to fix it.

    `key_path` uses manifest keys and 0-based array indices; it is rendered with
    1-based page/panel/balloon numbers, as authors count them in print.
    """

    severity: Severity
    message: str
    file: Path | None = None
    line: int | None = None
    column: int | None = None
    key_path: KeyPath = ()
    hint: str | None = None
    code: str = "comicc"

    def location(self) -> str:
        """`file:line:col`, or as much of it as is known."""
        if self.file is None:
            return ""
        where = str(self.file)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def render(self) -> str:
        """Render as `file:line:col: error[code]: message (at key.path)` plus a hint line.

        Author text is echoed with control characters escaped (see `printable`).
        """
        head = f"{self.severity}[{self.code}]: {printable(self.message)}"
        where = printable(self.location())
        text = f"{where}: {head}" if where else head
        if self.key_path:
            text += f"\n  at {printable(format_key_path(self.key_path))}"
        if self.hint:
            text += f"\n  hint: {printable(self.hint)}"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": str(self.file) if self.file else None,
            "line": self.line,
            "column": self.column,
            "key_path": format_key_path(self.key_path) if self.key_path else None,
            "hint": self.hint,
        }


class AuthorError(Exception):
    """Raised when the author's input cannot be built; carries every diagnostic found."""

    def __init__(self, diagnostics: Sequence[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


@dataclass
class DiagnosticSink:
    """Collects diagnostics during a run so all of them are reported together."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        if diagnostic not in self.items:
            self.items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            self.add(d)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise AuthorError(self.errors)


# Bidirectional overrides and isolates: they can make a line display other than it reads.
_BIDI_CONTROLS = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def printable(text: str) -> str:
    """`text` with control, line-separator and bidi-override characters as visible escapes.

    A manifest can hold any character in a string or quoted key; echoing `\\u001b[2J` raw
    would let it drive the author's terminal instead of being shown.
    """
    if text.isprintable():
        return text
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) in ("Cc", "Zl", "Zp") or ord(char) in _BIDI_CONTROLS
        else char
        for char in text
    )


_ONE_BASED = {"page", "panel", "balloons"}


def format_key_path(path: KeyPath) -> str:
    """`("page", 1, "panel", 0, "elements", 0)` -> `page[2].panel[1].elements[0]`.

    Pages, panels and balloons count from 1 (as authors number them); other arrays from 0.
    """
    out = ""
    previous: str | int | None = None
    for part in path:
        if isinstance(part, int):
            out += f"[{part + 1 if previous in _ONE_BASED else part}]"
        else:
            out += ("." if out else "") + part
        previous = part
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A `did you mean "x"?` hint for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'did you mean "{matches[0]}"?' if matches else None
