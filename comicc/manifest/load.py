"""Load stage: comic.toml text -> validated `Comic` model plus located diagnostics."""

from __future__ import annotations

import codecs
import os
import re
import stat
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comicc.manifest.diagnostics import (
    AuthorError,
    Diagnostic,
    DiagnosticSink,
    KeyPath,
    did_you_mean,
    format_key_path,
)
from comicc.manifest.positions import Duplicate, Position, find_duplicates, key_positions, locate

if TYPE_CHECKING:  # pydantic and the models load only when a manifest is validated
    from pydantic import BaseModel, ValidationError

    from comicc.manifest.models import Comic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MANIFEST_NAME = "comic.toml"
MAX_MANIFEST_BYTES = 2 * 1024 * 1024
MAX_NESTING = 32


@dataclass
class Project:
    """A loaded comic project: its folder, manifest text, model and warnings."""

    root: Path
    manifest_path: Path
    source: str
    comic: Comic
    positions: dict[KeyPath, Position]
    warnings: list[Diagnostic] = field(default_factory=list)

    def locate(self, diagnostic: Diagnostic) -> Diagnostic:
        """Fill in the manifest file, line and column of a diagnostic from its key path."""
        return place(diagnostic, self.manifest_path, self.positions)

    def path(self, relative: str) -> Path:
        """An author-given path, resolved inside the project folder."""
        return self.root / relative


def place(diagnostic: Diagnostic, manifest: Path, positions: dict[KeyPath, Position]) -> Diagnostic:
    """Give a key-path diagnostic the manifest's file:line:col (leaves image-file ones alone)."""
    if diagnostic.file is not None or not diagnostic.key_path:
        return diagnostic
    at = locate(positions, diagnostic.key_path, value=diagnostic.code != "unknown-key")
    # A key missing from the top level has no place of its own: it belongs to the document.
    line, column = at if at else (1, 1)
    return Diagnostic(
        diagnostic.severity,
        diagnostic.message,
        file=manifest,
        line=line,
        column=column,
        key_path=diagnostic.key_path,
        hint=diagnostic.hint,
        code=diagnostic.code,
    )


def find_manifest(path: Path | str | None) -> Path:
    """`comicc check DIR` or `comicc check DIR/comic.toml` -> the manifest's path."""
    target = Path(path) if path is not None else Path.cwd()
    if target.is_dir():
        target = target / MANIFEST_NAME
    if not target.exists():
        raise AuthorError(
            Diagnostic(
                "error",
                f"no {MANIFEST_NAME} found",
                file=target,
                hint="run `comicc init` to start a new comic, or pass the comic's folder",
                code="manifest",
            )
        )
    if target.is_dir():
        raise AuthorError(Diagnostic("error", "expected a file, found a directory", file=target))
    return target


def display_path(path: Path) -> Path:
    """Paths in messages are relative to the working directory when they can be."""
    try:
        relative = Path(os.path.relpath(path))
    except ValueError:
        return path
    # abspath, not resolve: a comic.toml that is a symbolic link is still named comic.toml.
    return Path(os.path.abspath(path)) if relative.parts[:1] == ("..",) else relative


def read_manifest_text(manifest: Path, shown: Path | None = None) -> str:
    """The manifest's text: a regular UTF-8 file of sane size; a leading BOM is dropped.

    `shown` is the path diagnostics name (default: `manifest`).
    """
    where = shown or manifest

    def fail(message: str, hint: str | None = None, line: int | None = None,
             column: int | None = None) -> AuthorError:
        return AuthorError(Diagnostic("error", message, file=where, line=line, column=column,
                                      hint=hint, code="manifest"))

    limit = f"comicc reads manifests up to {MAX_MANIFEST_BYTES // 1024 // 1024} MiB"
    too_big_hint = "a 2,000-page comic fits in well under 1 MiB; is this the right file?"
    try:
        info = manifest.stat()
        # A pipe or a device (/dev/zero) would block or never end; only plain files are read.
        if not stat.S_ISREG(info.st_mode):
            raise fail("the manifest is not a regular file (a device, pipe or socket)")
        if info.st_size > MAX_MANIFEST_BYTES:
            raise fail(f"manifest is {info.st_size // 1024} KiB; {limit}", too_big_hint)
        with open(manifest, "rb") as handle:
            data = handle.read(MAX_MANIFEST_BYTES + 1)
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as exc:
        raise fail(f"cannot read: {exc.strerror}") from None
    if len(data) > MAX_MANIFEST_BYTES:  # it grew while being read
        raise fail(f"manifest is too large; {limit}", too_big_hint)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise fail("the manifest is UTF-16 text; comicc reads UTF-8",
                   "save comic.toml as UTF-8 (in most editors: Save As, Encoding: UTF-8)")
    # Some editors start UTF-8 files with a byte-order mark; TOML does not allow one.
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_column(data, exc.start, b"\n")
        raise fail("the manifest is not valid UTF-8 text", "save comic.toml as UTF-8",
                   line, column) from None
    if "\0" in text:
        line, column = _line_column(text, text.index("\0"), "\n")
        raise fail("the manifest contains a NUL character; is it a binary file?",
                   "save comic.toml as plain UTF-8 text", line, column)
    return text


def _line_column(text: Any, offset: int, newline: Any) -> tuple[int, int]:
    """1-based line and column of `offset` in str or bytes `text`."""
    line = text[:offset].count(newline) + 1
    return line, offset - (text.rfind(newline, 0, offset) + 1) + 1


_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)|\(at end of document\)")


def parse_toml(text: str, manifest: Path) -> dict[str, Any]:
    """Parse TOML, turning syntax errors into a located diagnostic."""
    depth = max((len(m) for m in re.findall(r"[\[{]+", text[:200_000])), default=0)
    if depth > MAX_NESTING:
        raise AuthorError(Diagnostic("error", f"arrays or tables nested more than {MAX_NESTING} "
                                     "levels deep", file=manifest, code="toml"))
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_AT.search(message)
        line = column = None
        if match and match.group(1):
            line, column = int(match.group(1)), int(match.group(2))
        elif match:  # at the end of the document: just after its last character
            line = text.count("\n") + 1
            column = len(text) - text.rfind("\n")
        reason = _TOML_AT.sub("", message).strip().rstrip(".")
        duplicate = _duplicate_on_line(text, reason, line)
        if duplicate is not None:
            raise AuthorError(_duplicate_diagnostic(duplicate, manifest)) from None
        raise AuthorError(
            Diagnostic("error", f"TOML syntax: {reason}", file=manifest, line=line,
                       column=column, hint=_toml_hint(reason), code="toml")
        ) from None
    except RecursionError:
        raise AuthorError(Diagnostic("error", "the manifest is nested too deeply", file=manifest,
                                     code="toml")) from None


# tomllib's words for a key or table defined twice (it says neither which nor where first).
_DUPLICATE_REASONS = ("cannot overwrite", "cannot declare", "cannot mutate", "duplicate")


def _duplicate_on_line(text: str, reason: str, line: int | None) -> Duplicate | None:
    """The definition tomllib refused as a duplicate, found by rescanning the text."""
    if line is None or not reason.lower().startswith(_DUPLICATE_REASONS):
        return None
    return next((d for d in find_duplicates(text) if d.at[0] == line), None)


def _duplicate_diagnostic(duplicate: Duplicate, manifest: Path) -> Diagnostic:
    """Name the key path, point at the second definition's key, mention the first's line."""
    name = format_key_path(duplicate.path)
    first = duplicate.first[0]
    if duplicate.table:
        message = f"duplicate table `[{name}]`: `{name}` is already defined on line {first}"
        hint = ("each table may be defined only once: merge the two, or use [[...]] for a "
                "repeated table such as [[page]]")
    else:
        message = f"duplicate key `{name}`: first defined on line {first}"
        hint = "each key may be defined only once: delete one of the two, or rename one"
    line, column = duplicate.at
    return Diagnostic("error", message, file=manifest, line=line, column=column,
                      key_path=duplicate.path, hint=hint, code="duplicate-key")


def _toml_hint(reason: str) -> str | None:
    lowered = reason.lower()
    if "unterminated string" in lowered or "illegal character '\\n'" in lowered:
        return 'close the string with a matching quote, e.g. text = "Hello"'
    if "illegal character" in lowered:
        return 'control characters must be written as escapes inside a string, e.g. "\\u0007"'
    if "cannot declare" in lowered or "cannot overwrite" in lowered:
        return "each table and key may be defined only once; use [[page]] for repeated pages"
    if "invalid value" in lowered:
        return 'strings need quotes: title = "The Keeper"'
    return None


def _model_at(path: KeyPath) -> type[BaseModel] | None:
    """The pydantic model class that describes the table at `path`, if any."""
    from pydantic import BaseModel

    from comicc.manifest.models import Comic

    model: Any = Comic
    key_is_data = False
    for part in path:
        if isinstance(part, int):
            continue
        if key_is_data:  # the id in elements.<id>: data, not a field name
            key_is_data = False
            continue
        if model is None or not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        model = _inner_model(info.annotation)
        key_is_data = typing.get_origin(info.annotation) is dict
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _clean_loc(loc: tuple[Any, ...], data: Any) -> KeyPath:
    """Drop pydantic's union/validator tags from an error location, keeping real keys."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not path_has_tag(part):
            path.append(part)  # a missing key: point at its table
            break
        else:
            break
    return tuple(path)


def path_has_tag(part: str) -> bool:
    return "[" in part or part in {"str", "int", "float", "bool", "list", "dict", "none"}


_TYPE_WORDS = {
    "string_type": "a string in quotes",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "an array [ ... ]",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _value_at(data: Any, path: KeyPath) -> Any:
    node = data
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def validation_diagnostics(exc: ValidationError, data: dict[str, Any]) -> list[Diagnostic]:
    """Turn pydantic's errors into one author-grade diagnostic per offending key."""
    by_path: dict[KeyPath, list[dict[str, Any]]] = {}
    for error in exc.errors(include_url=False):
        path = _clean_loc(tuple(error["loc"]), data)
        by_path.setdefault(path, []).append(error)
    out = []
    for path, errors in by_path.items():
        out.append(_one_diagnostic(path, errors, data))
    return out


def _one_diagnostic(path: KeyPath, errors: list[dict[str, Any]], data: dict[str, Any]) -> Diagnostic:
    kinds = {e["type"] for e in errors}
    key = path[-1] if path else ""
    if "extra_forbidden" in kinds:
        parent = _model_at(path[:-1])
        known = list(parent.model_fields) if parent else []
        hint = did_you_mean(str(key), known)
        if hint is None and known:
            hint = "known keys here: " + ", ".join(known)
        return Diagnostic("error", f"unknown key `{key}`", key_path=path, hint=hint,
                          code="unknown-key")
    if "missing" in kinds:
        missing = [e["loc"][-1] for e in errors if e["type"] == "missing"]
        names = ", ".join(f"`{m}`" for m in missing)
        table = path if path and path[-1] not in missing else path[:-1]
        return Diagnostic("error", f"missing required key {names}", key_path=table or path,
                          code="missing-key")
    if "string_pattern_mismatch" in kinds and len(path) == 2 and path[0] == "elements":
        suggestion = re.sub(r"[^A-Za-z0-9_-]+", "_", str(key)).strip("_") or "element"
        if not re.match(r"[A-Za-z_]", suggestion):
            suggestion = "_" + suggestion
        return Diagnostic("error", f"`{key}` is not a valid element id", key_path=path,
                          hint=f"use letters, digits, _ and -, starting with a letter or _ "
                               f"(e.g. {suggestion})", code="invalid-id")
    custom = [e for e in errors if e["type"] in ("value_error", "assertion_error")]
    if custom:
        message = str(custom[0]["msg"]).removeprefix("Value error, ")
        return Diagnostic("error", message, key_path=path, code="invalid-value")
    value = _value_at(data, path)
    expected = sorted({_TYPE_WORDS[e["type"]] for e in errors if e["type"] in _TYPE_WORDS})
    if expected:
        return Diagnostic("error", f"expected {' or '.join(expected)}, found {_describe(value)}",
                          key_path=path, code="wrong-type")
    literal = [e for e in errors if e["type"] == "literal_error"]
    if literal:
        allowed = literal[0].get("ctx", {}).get("expected", "")
        hint = did_you_mean(str(value), re.findall(r"'([^']*)'", allowed)) if value else None
        return Diagnostic("error", f"`{value}` is not one of {allowed}", key_path=path,
                          hint=hint, code="invalid-value")
    short = [e for e in errors if e["type"] == "too_short"]
    if short:
        least = short[0].get("ctx", {}).get("min_length", 1)
        return Diagnostic("error", f"needs at least {least} item(s)", key_path=path,
                          code="invalid-value")
    first = errors[0]
    return Diagnostic("error", str(first["msg"]), key_path=path, code="invalid-value")


def _in_file_order(diagnostic: Diagnostic) -> tuple[int, int]:
    return (diagnostic.line or 0, diagnostic.column or 0)


def load_project(path: Path | str | None = None) -> Project:
    """Read, parse and validate a comic project; raise AuthorError with every error found."""
    manifest = find_manifest(path)
    shown = display_path(manifest)
    root = manifest.resolve().parent
    from pydantic import ValidationError

    from comicc.manifest.checks import check_comic
    from comicc.manifest.models import Comic

    text = read_manifest_text(manifest, shown)
    data = parse_toml(text, shown)
    positions = key_positions(text)
    try:
        comic = Comic.model_validate(data)
    except ValidationError as exc:
        errors = [place(d, shown, positions) for d in validation_diagnostics(exc, data)]
        raise AuthorError(sorted(errors, key=_in_file_order)) from None
    except RecursionError:
        raise AuthorError(Diagnostic("error", "the manifest is nested too deeply", file=shown,
                                     code="toml")) from None
    sink = DiagnosticSink()
    check_comic(comic, root, sink)
    located = sorted((place(d, shown, positions) for d in sink.items), key=_in_file_order)
    errors = [d for d in located if d.severity == "error"]
    if errors:
        raise AuthorError(errors + [d for d in located if d.severity == "warning"])
    return Project(root=root, manifest_path=shown, source=text, comic=comic,
                   positions=positions, warnings=located)
