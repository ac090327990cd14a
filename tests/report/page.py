"""Reading a written report back: the HTML's matrix cells, anchors, images and text."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass
class MatrixCell:
    value: str
    classes: list[str]
    link: str | None = None


class ReportPage(HTMLParser):
    """Parses a report: cells of each `table[data-matrix]`, ids, links, images, tags, text."""

    def __init__(self) -> None:
        super().__init__()
        self.matrices: dict[str, dict[tuple[str, str], MatrixCell]] = {}
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self._matrix: str | None = None
        self._cell: MatrixCell | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "table" and "data-matrix" in a:
            self._matrix = a["data-matrix"]
            self.matrices[self._matrix] = {}
        if tag == "td" and self._matrix and "data-element" in a:
            self._cell = MatrixCell(a["data-value"], a.get("class", "").split())
            self.matrices[self._matrix][(a["data-element"], a["data-panel"])] = self._cell
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
            if self._cell is not None:
                self._cell.link = a["href"]
        if tag == "img":
            self.images.append(a.get("src", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._matrix = None
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return "".join(self.text)


def read_page(html: str) -> ReportPage:
    page = ReportPage()
    page.feed(html)
    page.close()
    return page
