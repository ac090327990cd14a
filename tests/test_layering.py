"""The package layering of docs/architecture.md: no module imports from a layer above its own.

Lazy imports inside functions count too: they are how a module reaches up in disguise.
"""

from __future__ import annotations

import ast
from pathlib import Path

import comicc

PACKAGE = Path(comicc.__file__).parent

# Bottom to top. A module may import its own package and any package in a lower layer;
# packages in one layer are independent of each other.
LAYERS: list[set[str]] = [
    {"comicc"},  # the version
    {"comicc.interrupts"},  # Ctrl-C and SIGTERM: prompt stops, temporaries removed
    {"comicc.files", "comicc.boxes"},  # content hashes and atomic writes; element boxes
    {"comicc.manifest"},  # models, loading, diagnostics, images, the target matrix
    {"comicc.ml", "comicc.page"},  # networks and training; layout, lettering, PDF/CBZ
    {"comicc.report"},  # the build report
    {"comicc.engine"},  # settings, stages, cache, engine, the build pipeline
    {"comicc.git"},  # diff and changes between revisions (they build)
    {"comicc.watch", "comicc.starter"},  # `comicc watch`, `comicc init`
    {"comicc.cli"},  # the command line: flags in, diagnostics out
    {"comicc.__main__"},
]


def unit(module: str) -> str:
    """The layering unit of a module: its package under comicc, or the top-level module."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def layer(name: str) -> int:
    for index, units in enumerate(LAYERS):
        if name in units:
            return index
    raise AssertionError(f"{name} is in no layer: add it to LAYERS and docs/architecture.md")


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every comicc module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "comicc":  # `from comicc import files`: a module, or __version__
                found |= {f"comicc.{alias.name}" for alias in node.names
                          if (PACKAGE / f"{alias.name}.py").exists()
                          or (PACKAGE / alias.name).is_dir()}
    return {name for name in found if name == "comicc" or name.startswith("comicc.")}


def upward_imports() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = unit(module_name(path))
        for name in sorted(imported_modules(path)):
            target = unit(name)
            if target == importer or target == "comicc":
                continue
            if layer(target) >= layer(importer):
                problems.append(f"{module_name(path)} imports {name}")
    return problems


def test_every_module_belongs_to_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        layer(unit(module_name(path)))


def test_no_module_imports_from_a_layer_above_or_beside_it() -> None:
    assert upward_imports() == []


def test_the_check_sees_a_lazy_import_that_reaches_up(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from comicc.engine.pipeline import build\n")
    assert imported_modules(source) >= {"comicc.engine.pipeline"}
    assert layer(unit("comicc.engine.pipeline")) > layer(unit("comicc.manifest.load"))
