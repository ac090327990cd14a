"""Where each key and value sits in a TOML file, so diagnostics can name line and column.

`tomllib` gives values but no positions. This scanner walks the same text and records
the (line, column) of every key and array item under its key path, e.g.
`("page", 1, "panel", 0, "elements", 0)`, and every key or table defined twice. It is
lenient: on anything unexpected it stops scanning and keeps what it found, so it also
serves text tomllib rejected (to say which key a duplicate is).
"""

from __future__ import annotations

from dataclasses import dataclass

from comicc.manifest.diagnostics import KeyPath

Position = tuple[int, int]


@dataclass(frozen=True)
class Duplicate:
    """A key or table defined a second time: where, and where it was first defined."""

    path: KeyPath
    at: Position  # the second definition's key
    first: Position  # the first definition's key
    table: bool  # the second definition is a [table] header

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Stop(Exception):
    pass


class _Scanner:
    def __init__(self, text: str):
        self.text = text
        self.i = 0
        self.line = 1
        self.col = 1
        self.found: dict[KeyPath, Position] = {}
        self.array_tables: dict[KeyPath, int] = {}
        # What defined each key path: "value", "dotted" (a.b = 1 makes `a`), "table" or
        # "array"; tables made implicitly by a header ([a.b] makes `a`) are not recorded.
        self.defined: dict[KeyPath, tuple[str, Position]] = {}
        self.duplicates: list[Duplicate] = []

    # -- low level -------------------------------------------------------------
    def peek(self, offset: int = 0) -> str:
        j = self.i + offset
        return self.text[j] if j < len(self.text) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i >= len(self.text):
                raise _Stop
            if self.text[self.i] == "\n":
                self.line += 1
                self.col = 1
            else:
                self.col += 1
            self.i += 1

    def progressed(self, start: int) -> None:
        """Stop where the text is not TOML (find_duplicates scans text tomllib rejected)."""
        if self.i == start:
            raise _Stop

    def pos(self) -> Position:
        return (self.line, self.col)

    def skip_blank(self, newlines: bool) -> None:
        while self.i < len(self.text):
            c = self.peek()
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.text) and self.peek() != "\n":
                    self.advance()
            else:
                return

    # -- tokens ----------------------------------------------------------------
    def string(self) -> str:
        quote = self.peek()
        if self.text.startswith(quote * 3, self.i):
            self.advance(3)
            end = self.text.find(quote * 3, self.i)
            if end < 0:
                raise _Stop
            while self.text.startswith(quote, end + 3):  # up to two quotes may end the body
                end += 1
            body = self.text[self.i : end]
            self.advance(end + 3 - self.i)
            return body
        self.advance()
        out = []
        while True:
            c = self.peek()
            if c == "" or c == "\n":
                raise _Stop
            if c == quote:
                self.advance()
                return "".join(out)
            if c == "\\" and quote == '"':
                out.append(self.text[self.i : self.i + 2])
                self.advance(2)
                continue
            out.append(c)
            self.advance()

    def key_part(self) -> str:
        if self.peek() in "\"'":
            return self.string()
        start = self.i
        while self.peek() in _BARE and self.peek() != "":
            self.advance()
        if self.i == start:
            raise _Stop
        return self.text[start : self.i]

    def dotted_key(self) -> list[tuple[str, Position]]:
        parts = []
        while True:
            self.skip_blank(newlines=False)
            at = self.pos()
            parts.append((self.key_part(), at))
            self.skip_blank(newlines=False)
            if self.peek() == ".":
                self.advance()
                continue
            return parts

    # -- structure -------------------------------------------------------------
    def resolve(self, names: list[str]) -> KeyPath:
        """Turn `page.panel` into `("page", 3, "panel")` using the array-of-tables counters."""
        path: KeyPath = ()
        for name in names:
            path = (*path, name)
            if path in self.array_tables:
                path = (*path, self.array_tables[path] - 1)
        return path

    def value(self, path: KeyPath) -> None:
        self.found.setdefault(path, self.pos())
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.advance()
            index = 0
            while True:
                start = self.i
                self.skip_blank(newlines=True)
                if self.peek() == "]":
                    self.advance()
                    return
                self.value((*path, index))
                index += 1
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.advance()
                self.progressed(start)
        elif c == "{":
            self.advance()
            while True:
                start = self.i
                self.skip_blank(newlines=True)
                if self.peek() == "}":
                    self.advance()
                    return
                self.key_value(path)
                self.skip_blank(newlines=True)
                if self.peek() == ",":
                    self.advance()
                self.progressed(start)
        else:
            while self.peek() not in ("", ",", "]", "}", "\n", "#"):
                self.advance()

    def define(self, path: KeyPath, kind: str, at: Position, table: bool = False) -> None:
        """Record a definition of `path`; a second one that TOML forbids is a duplicate."""
        before = self.defined.get(path)
        if before is None:
            self.defined[path] = (kind, at)
        elif not (kind == before[0] == "dotted") and not (kind == before[0] == "array"):
            self.duplicates.append(Duplicate(path, at, before[1], table))

    def key_value(self, table: KeyPath) -> None:
        path = table
        parts = self.dotted_key()
        for index, (name, at) in enumerate(parts):
            path = (*path, name)
            self.found.setdefault(path, at)
            self.define(path, "value" if index == len(parts) - 1 else "dotted", at)
        if self.peek() != "=":
            raise _Stop
        self.advance()
        self.skip_blank(newlines=False)
        value_at = self.pos()
        self.value(path)
        self.found.setdefault((*path, "="), value_at)

    def header(self) -> KeyPath:
        is_array = self.text.startswith("[[", self.i)
        self.advance(2 if is_array else 1)
        parts = self.dotted_key()
        self.advance(2 if is_array else 1)
        names = [name for name, _ in parts]
        parent = self.resolve(names[:-1])
        path = (*parent, names[-1])
        at = parts[-1][1]
        self.define(path, "array" if is_array else "table", at, table=True)
        if is_array:
            self.array_tables[path] = self.array_tables.get(path, 0) + 1
            self.found.setdefault(path, at)
            path = (*path, self.array_tables[path] - 1)
        self.found.setdefault(path, at)
        return path

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank(newlines=True)
            if self.i >= len(self.text):
                return
            if self.peek() == "[":
                table = self.header()
            else:
                self.key_value(table)


def key_positions(text: str) -> dict[KeyPath, Position]:
    """Map every key path in a TOML document to the 1-based (line, column) of its key.

    Array items map to the position of the item itself; `(*path, "=")` maps to the
    position of a key's value.
    """
    scanner = _Scanner(text)
    try:
        scanner.document()
    except _Stop:
        pass
    return scanner.found


def find_duplicates(text: str) -> list[Duplicate]:
    """Keys and tables that `text` defines twice, in file order (as far as it scans)."""
    scanner = _Scanner(text)
    try:
        scanner.document()
    except _Stop:
        pass
    return scanner.duplicates


def locate(positions: dict[KeyPath, Position], path: KeyPath, *, value: bool = False) -> Position | None:
    """The position of `path`, or of its nearest ancestor that has one."""
    if value and (*path, "=") in positions:
        return positions[(*path, "=")]
    for end in range(len(path), 0, -1):
        if path[:end] in positions:
            return positions[path[:end]]
    return None
