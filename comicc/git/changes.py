"""What changed between two versions of a comic, read from the manifests themselves.

Pages, panels and balloons are matched like lines in a text diff (a panel by its art
file, a balloon by its whole content), so inserting a balloon reads as one balloon added,
not as every later balloon edited. Art, references and templates are compared by content.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from comicc.engine.stages import FileHashes, template_hash
from comicc.files import stable_json
from comicc.manifest.load import Project
from comicc.manifest.matrix import panel_label
from comicc.manifest.models import Balloon, Element, Page, Panel

T = TypeVar("T")
QUOTE_LIMIT = 80  # longer texts are shortened in change lines


@dataclass(frozen=True)
class Change:
    """One difference, attached to the page it shows on (None: the whole book)."""

    page: int | None  # 1-based, numbered as in the newer version (the older for removals)
    text: str

    def line(self) -> str:
        return f"page {self.page}: {self.text}" if self.page is not None else self.text


def quote(value: Any) -> str:
    """A value as it appears in a change line: strings quoted and shortened, others as TOML-ish."""
    if isinstance(value, str):
        text = value if len(value) <= QUOTE_LIMIT else value[: QUOTE_LIMIT - 1] + "…"
        return '"' + text.replace("\n", "\\n") + '"'
    if value is None:
        return "(unset)"
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return stable_json(value)


def align(old: Sequence[T], new: Sequence[T],
          key: Callable[[T], Hashable]) -> list[tuple[int | None, int | None]]:
    """Pair items of two sequences like `diff` pairs lines; unpaired ones get None."""
    matcher = difflib.SequenceMatcher(None, [key(x) for x in old], [key(x) for x in new],
                                      autojunk=False)
    pairs: list[tuple[int | None, int | None]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs += zip(range(i1, i2), range(j1, j2), strict=True)
            continue
        # A replaced block pairs up item by item (edits); the surplus is removed or added.
        common = min(i2 - i1, j2 - j1)
        pairs += zip(range(i1, i1 + common), range(j1, j1 + common), strict=True)
        pairs += [(i, None) for i in range(i1 + common, i2)]
        pairs += [(None, j) for j in range(j1 + common, j2)]
    return pairs


def manifest_changes(old: Project, new: Project) -> list[Change]:
    """Every difference between two loaded versions of a comic, in book order."""
    files = (FileHashes(old, missing="missing"), FileHashes(new, missing="missing"))
    changes = _table_changes("[comic]", old.comic.comic, new.comic.comic, files,
                             file_keys={"style_image"})
    changes += _table_changes("[build]", old.comic.build, new.comic.build, files)
    changes += _table_changes("[layout]", old.comic.layout, new.comic.layout, files)
    changes += _element_changes(old.comic.elements, new.comic.elements, files)
    pages_a, pages_b = old.comic.page, new.comic.page
    for pair in align(pages_a, pages_b, key=lambda page: tuple(p.art for p in page.panel)):
        match pair:
            case (int() as i, None):
                changes.append(Change(i + 1, f"removed ({_count(pages_a[i].panel, 'panel')})"))
            case (None, int() as j):
                changes.append(Change(j + 1, f"added ({_count(pages_b[j].panel, 'panel')})"))
            case (int() as i, int() as j):
                changes += _page_changes(pages_a[i], pages_b[j], j, files)
    return changes


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _table_changes(name: str, old: BaseModel, new: BaseModel, files: tuple[FileHashes, FileHashes],
                   file_keys: frozenset[str] | set[str] = frozenset()) -> list[Change]:
    changes = []
    for key in type(new).model_fields:
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            changes.append(Change(None, f"{name} {key} changed: {quote(a)} -> {quote(b)}"))
        elif key in file_keys and a is not None and files[0](a) != files[1](b):
            changes.append(Change(None, f"{name} {key} file {a} changed"))
    return changes


def _element_changes(old: dict[str, Element], new: dict[str, Element],
                     files: tuple[FileHashes, FileHashes]) -> list[Change]:
    changes = []
    for name in old:
        if name not in new:
            changes.append(Change(None, f"element {name} removed"))
    for name, element in new.items():
        if name not in old:
            changes.append(Change(None, f"element {name} added ({element.kind}, "
                                        f"{_count(element.references, 'reference')})"))
            continue
        before = old[name]
        for key in ("kind", "name", "description"):
            a, b = getattr(before, key), getattr(element, key)
            if a != b:
                changes.append(Change(None, f"element {name} {key} changed: "
                                            f"{quote(a)} -> {quote(b)}"))
        for pair in align(before.references, element.references, key=lambda path: path):
            match pair:
                case (int() as i, None):
                    changes.append(Change(None, f"element {name} reference "
                                                f"{before.references[i]} removed"))
                case (None, int() as j):
                    changes.append(Change(None, f"element {name} reference "
                                                f"{element.references[j]} added"))
                case (int() as i, int() as j):
                    a, b = before.references[i], element.references[j]
                    if a != b:
                        changes.append(Change(None, f"element {name} reference changed: "
                                                    f"{a} -> {b}"))
                    elif files[0](a) != files[1](b):
                        changes.append(Change(None, f"element {name} reference {b} redrawn"))
    return changes


def _page_changes(old: Page, new: Page, index: int, files: tuple[FileHashes, FileHashes]) -> list[Change]:
    page = index + 1
    changes = []
    for key in ("layout", "gutter", "margin"):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            changes.append(Change(page, f"{key} changed: {quote(a)} -> {quote(b)}"))
    if old.layout == new.layout:
        before, after = (template_hash(f.project, new.layout) for f in files)
        if before != after:
            changes.append(Change(page, f"layout template {new.layout} changed"))
    for pair in align(old.panel, new.panel, key=lambda panel: panel.art):
        match pair:
            case (int() as i, None):
                changes.append(Change(page, f"panel {panel_label(index, i)} removed "
                                            f"({old.panel[i].art})"))
            case (None, int() as j):
                changes.append(Change(page, f"panel {panel_label(index, j)} added "
                                            f"({new.panel[j].art})"))
            case (int() as i, int() as j):
                changes += _panel_changes(old.panel[i], new.panel[j], index, j, files)
    return changes


def _panel_changes(old: Panel, new: Panel, page_index: int, index: int,
                   files: tuple[FileHashes, FileHashes]) -> list[Change]:
    page, label = page_index + 1, panel_label(page_index, index)
    changes = []
    if old.art != new.art:
        changes.append(Change(page, f"panel {label} art changed: {old.art} -> {new.art}"))
    elif files[0](old.art) != files[1](new.art):
        changes.append(Change(page, f"panel {label} art {new.art} redrawn"))
    gone = [e for e in old.elements if e not in new.elements]
    came = [e for e in new.elements if e not in old.elements]
    if gone or came:
        listed = ", ".join([f"+{e}" for e in came] + [f"-{e}" for e in gone])
        changes.append(Change(page, f"panel {label} elements changed: {listed}"))
    for name in sorted(set(old.regions) | set(new.regions)):
        a, b = old.regions.get(name), new.regions.get(name)
        if a != b:
            changes.append(Change(page, f"panel {label} region of {name} changed: "
                                        f"{quote(a)} -> {quote(b)}"))
    for key in ("direction", "style", "focus"):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            changes.append(Change(page, f"panel {label} {key} changed: {quote(a)} -> {quote(b)}"))
    changes += _balloon_changes(old.balloons, new.balloons, page, label)
    return changes


def _balloon_changes(old: list[Balloon], new: list[Balloon], page: int,
                     label: str) -> list[Change]:
    changes = []
    for pair in align(old, new, key=lambda balloon: stable_json(balloon.model_dump())):
        match pair:
            case (int() as i, None):
                changes.append(Change(page, f"balloon {i + 1} in panel {label} removed: "
                                            f"{_describe(old[i])}"))
            case (None, int() as j):
                changes.append(Change(page, f"balloon {j + 1} in panel {label} added: "
                                            f"{_describe(new[j])}"))
            case (int() as i, int() as j):
                for key in Balloon.model_fields:
                    a, b = getattr(old[i], key), getattr(new[j], key)
                    if a != b:
                        changes.append(Change(page, f"balloon {j + 1} in panel {label} {key} "
                                                    f"changed: {quote(a)} -> {quote(b)}"))
    return changes


def _describe(balloon: Balloon) -> str:
    who = f" by {balloon.speaker}" if balloon.speaker else ""
    return f"{balloon.kind}{who} {quote(balloon.text)}"
