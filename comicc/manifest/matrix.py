"""Plan stage: the target matrix p̂ (element x panel, 1 = present) from the manifest."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from comicc.manifest.models import Comic


@dataclass(frozen=True)
class TargetMatrix:
    """p̂: rows are elements, columns are panels in reading order (labels "page.panel")."""

    elements: list[str]
    panels: list[str]
    values: list[list[int]]

    def row(self, element: str) -> list[int]:
        return self.values[self.elements.index(element)]

    def to_json(self) -> str:
        return json.dumps(
            {"elements": self.elements, "panels": self.panels, "matrix": self.values}, indent=2
        )

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["element", *self.panels])
        for name, row in zip(self.elements, self.values, strict=True):
            writer.writerow([name, *row])
        return out.getvalue()

    def to_table(self) -> str:
        """A plain-text table: one row per element, ● where present, · where absent."""
        width = max([len("element"), *(len(e) for e in self.elements)])
        cells = [max(len(p), 1) for p in self.panels]
        header = "element".ljust(width) + "  " + "  ".join(
            p.rjust(w) for p, w in zip(self.panels, cells, strict=True)
        )
        lines = [header, "-" * len(header)]
        for name, row in zip(self.elements, self.values, strict=True):
            marks = ("●" if v else "·" for v in row)
            lines.append(
                name.ljust(width) + "  " + "  ".join(m.rjust(w) for m, w in zip(marks, cells, strict=True))
            )
        return "\n".join(lines)


def panel_label(page_index: int, panel_index: int) -> str:
    """The human label of a panel, 1-based: page 2, panel 3 -> "2.3"."""
    return f"{page_index + 1}.{panel_index + 1}"


def target_matrix(comic: Comic) -> TargetMatrix:
    """Build p̂ from each panel's `elements` list."""
    elements = comic.element_ids()
    panels = comic.panels()
    values = [[1 if name in panel.elements else 0 for _, _, panel in panels] for name in elements]
    return TargetMatrix(elements, [panel_label(p, j) for p, j, _ in panels], values)
