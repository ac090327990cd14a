"""The layout templates a manifest may name: where they are found, parsed safely, and
what their headers promise (capacity, min_panels, mirror_rtl).

`comicc check` validates page layouts against this catalogue; `comicc.page.layout`
renders the same templates into panel frames.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

import comicc
from comicc.manifest.diagnostics import AuthorError, Diagnostic, KeyPath, did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

TEMPLATE_SUFFIX = ".toml.j2"


@dataclass(frozen=True)
class LayoutInfo:
    """What the manifest validator needs to know about one layout template."""

    name: str
    capacity: int
    min_panels: int
    mirror_rtl: bool
    path: Path
    builtin: bool


def builtin_layout_dir() -> Path:
    return Path(comicc.__file__).parent / "templates" / "layouts"


def layout_dirs(project_dir: Path | None) -> list[Path]:
    """Where templates are looked up, in order: the project's own folder wins."""
    dirs = [builtin_layout_dir()]
    if project_dir is not None:
        dirs.insert(0, project_dir / "templates" / "layouts")
    return dirs


def _template_paths(project_dir: Path | None) -> dict[str, tuple[Path, bool]]:
    """Template files by name, project templates replacing built-in ones of the same name."""
    found: dict[str, tuple[Path, bool]] = {}
    for folder in reversed(layout_dirs(project_dir)):
        if folder.is_dir():
            builtin = folder == builtin_layout_dir()
            for path in sorted(folder.glob(f"*{TEMPLATE_SUFFIX}")):
                found[path.name[: -len(TEMPLATE_SUFFIX)]] = (path, builtin)
    return dict(sorted(found.items()))


def available_layouts(project_dir: Path | None) -> dict[str, LayoutInfo]:
    """Every layout a project can name, project templates overriding built-in ones of the same name.

    Raises AuthorError naming the template file when a template cannot be read.
    """
    return {
        name: _read_info(name, path, builtin)
        for name, (path, builtin) in _template_paths(project_dir).items()
    }


def find_layout(name: str, project_dir: Path | None, key_path: KeyPath = ()) -> LayoutInfo:
    """The template called `name`, or an AuthorError with a did-you-mean."""
    paths = _template_paths(project_dir)
    if name not in paths:
        raise AuthorError(
            Diagnostic(
                "error",
                f'unknown layout "{name}"',
                key_path=key_path,
                hint=did_you_mean(name, paths) or "available layouts: " + ", ".join(paths),
                code="layout",
            )
        )
    path, builtin = paths[name]
    return _read_info(name, path, builtin)


# A layout needs small numbers and short strings; anything bigger is a template gone wrong.
MAX_REPEAT = 100_000


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox, plus a bound on `*` and `**` so a template cannot ask for gigabytes."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: object, operator: str, left: object, right: object) -> object:
        if operator == "*" and (isinstance(left, (str, list, tuple)) or
                                isinstance(right, (str, list, tuple))):
            count = right if isinstance(left, (str, list, tuple)) else left
            size = len(left if isinstance(left, (str, list, tuple)) else right)  # type: ignore[arg-type]
            if isinstance(count, int) and count * size > MAX_REPEAT:
                raise jinja2.exceptions.SecurityError("a repeated string or list is too long")
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise jinja2.exceptions.SecurityError("an exponent is too large")
        return super().call_binop(context, operator, left, right)  # type: ignore[arg-type]


def template_environment() -> ImmutableSandboxedEnvironment:
    # StrictUndefined: a misspelt variable is an error, not a silent empty string.
    env = _BoundedSandbox(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.globals.update(min=min, max=max, floor=math.floor, ceil=math.ceil)
    return env


def template_error(path: Path, message: str, line: int | None = None, hint: str | None = None):
    return AuthorError(Diagnostic("error", message, file=path, line=line, hint=hint, code="layout"))


def _unsafe_names(tree: nodes.Template) -> list[tuple[str, int]]:
    """Underscore attributes a template reaches for, found before it runs (even unused ones)."""
    found = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name: object
        if isinstance(node, nodes.Getattr):
            name = node.attr
        else:
            name = getattr(node.arg, "value", None) if isinstance(node, nodes.Getitem) else None
        if isinstance(name, str) and name.startswith("_"):
            found.append((name, node.lineno))
    return found


def parse_template(path: Path) -> tuple[str, nodes.Template]:
    """Read and parse a template, refusing sandbox escapes before anything runs."""
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise template_error(path, f"cannot read layout template: {exc}") from None
    try:
        tree, unsafe = _parsed(source)
    except jinja2.TemplateSyntaxError as exc:
        raise template_error(path, f"template syntax error: {exc.message}", exc.lineno) from None
    if unsafe:
        name, line = unsafe[0]
        raise template_error(
            path,
            f'layout template reaches for "{name}", which the template sandbox refuses',
            line,
            hint="templates may only do arithmetic on the page measurements they are given",
        )
    return source, tree


@functools.lru_cache(maxsize=64)
def _parsed(source: str) -> tuple[nodes.Template, list[tuple[str, int]]]:
    """A template's tree and the sandbox escapes it reaches for, by its text: a book's pages
    ask for the same few templates hundreds of times (30 pages parsed them ~300 times)."""
    tree = template_environment().parse(source)
    return tree, _unsafe_names(tree)


@functools.lru_cache(maxsize=64)
def compiled_template(source: str) -> jinja2.Template:
    """The sandboxed template for `source` (checked by `parse_template` first), compiled once."""
    return template_environment().from_string(source)


def _static_header(tree: nodes.Template) -> str:
    """The template's opening plain-TOML lines: text before the first jinja tag and first table."""
    text = ""
    for node in tree.body:
        if not isinstance(node, nodes.Output):
            break
        prefix = []
        for child in node.nodes:
            if not isinstance(child, nodes.TemplateData):
                break
            prefix.append(child.data)
        text += "".join(prefix)
        if len(prefix) < len(node.nodes):
            break
    lines = []
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("[") or not line.endswith("\n"):
            break
        lines.append(line)
    return "".join(lines)


def _read_info(name: str, path: Path, builtin: bool) -> LayoutInfo:
    """Read a template's header (capacity, min_panels, mirror_rtl) without rendering it."""
    _, tree = parse_template(path)
    try:
        data = tomllib.loads(_static_header(tree))
    except tomllib.TOMLDecodeError as exc:
        raise template_error(path, f"layout template header is not valid TOML: {exc}") from None
    capacity = data.get("capacity")
    if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1:
        raise template_error(
            path,
            "layout template must start with `capacity = N` (a whole number >= 1)",
            hint="put capacity, min_panels and mirror_rtl before any {% %} tag or [[frame]]",
        )
    min_panels = data.get("min_panels", capacity)
    if not isinstance(min_panels, int) or not 1 <= min_panels <= capacity:
        raise template_error(
            path, f"`min_panels` must be a whole number from 1 to capacity ({capacity})"
        )
    mirror = data.get("mirror_rtl", True)
    if not isinstance(mirror, bool):
        raise template_error(path, "`mirror_rtl` must be true or false")
    return LayoutInfo(name, capacity, min_panels, mirror, path, builtin)
