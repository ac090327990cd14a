"""benchmarks/book.py: the synthetic book the book-length benchmarks build is a valid comic."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from PIL import Image

from comicc.cli import main
from comicc.manifest.load import load_project
from comicc.page.plan import print_sizes

BOOK_SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "book.py"


def book_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark_book", BOOK_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_the_full_plan_has_180_panels_and_every_element() -> None:
    book = book_module()
    panels = [panel for page in book.book_plan(30) for panel in page]
    assert len(panels) == 180 and len(book.ELEMENTS) == 6
    for name in book.ELEMENTS:  # enough of each for its classifier to learn from
        assert sum(name in panel.elements for panel in panels) >= 20, name


def test_a_one_page_book_checks_clean_with_art_at_print_size(tmp_path: Path, capsys) -> None:
    book = book_module()
    book.write_book(tmp_path, pages=1, dpi=72)
    assert main(["check", str(tmp_path)]) == 0
    assert "6 panel(s), 6 element(s), 0 warning(s)" in capsys.readouterr().out
    project = load_project(tmp_path)
    art = [project.path(panel.art) for _, _, panel in project.comic.panels()]
    sizes = [Image.open(path).size for path in art]
    # Exactly what the frames need: printed without scaling down (or a resolution warning).
    assert print_sizes(project.comic, tmp_path, sizes) == sizes
    assert all(panel.regions or not set(panel.elements) & {"mara", "fathom", "pip"}
               for _, _, panel in project.comic.panels())


def test_truth_boxes_bound_every_drawn_element_and_lie_in_the_characters_regions(tmp_path: Path) -> None:
    book = book_module()
    book.write_book(tmp_path, pages=1, dpi=72)
    truth = json.loads((tmp_path / "truth.json").read_text())["panels"]
    project = load_project(tmp_path)
    for page, number, panel in project.comic.panels():
        label = f"{page + 1}.{number + 1}"
        boxes = truth[label]["boxes"]
        assert truth[label]["art"] == panel.art
        assert set(boxes) == set(panel.elements)
        for element, (x, y, w, h) in boxes.items():
            assert 0 <= x and 0 <= y and x + w <= 1.0001 and y + h <= 1.0001 and w * h > 0
            if panel.regions and element in panel.regions:  # a character's drawing lies within its region
                rx, ry, rw, rh = panel.regions[element]
                assert rx - 0.01 <= x and x + w <= rx + rw + 0.01, element
                assert ry - 0.01 <= y and y + h <= ry + rh + 0.01, element
