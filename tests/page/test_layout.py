"""Layout templates: frames for each built-in layout, rtl mirroring, overrides and the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from comicc.manifest.diagnostics import AuthorError
from comicc.manifest.layouts import available_layouts
from comicc.page.layout import layout_frames, page_geometry

from .conftest import make_comic

FIRST = "[[frame]]\nx = 0\ny = 0\nw = 100\nh = 100\n"
REQUIRED = {
    "splash": 1,
    "grid-2x2": 4,
    "three-tier": 3,
    "six-panel": 6,
    "wide-over-two": 3,
    "two-tier": 2,
}


def frames(tmp_path: Path, layout: str, count: int, project: Path | None = None, **meta):
    comic = make_comic(tmp_path, [{"layout": layout, "panel": [{} for _ in range(count)]}], **meta)
    return comic, layout_frames(comic, 0, project)


def test_builtin_layouts_declare_capacity() -> None:
    layouts = available_layouts(None)
    for name, capacity in REQUIRED.items():
        assert layouts[name].capacity == capacity
        assert layouts[name].builtin
        assert layouts[name].path.name == f"{name}.toml.j2"


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_count_the_layout_accepts_tiles_the_panel_area(tmp_path: Path, name: str) -> None:
    info = available_layouts(None)[name]
    for count in range(info.min_panels, info.capacity + 1):
        comic, result = frames(tmp_path, name, count)
        geometry = page_geometry(comic, 0)
        assert len(result) == count
        for i, a in enumerate(result):
            assert geometry.media.contains(a.rect, 0.01)
            for b in result[i + 1 :]:
                assert a.rect.overlap_area(b.rect) < 1e-6
        # Frames plus gutters cover the whole panel area (no holes beyond the gutters).
        covered = sum(f.rect.intersection(geometry.panel_area).area for f in result)
        assert covered > 0.85 * geometry.panel_area.area


def test_grid_uses_gutter_and_margin_from_the_manifest(tmp_path: Path) -> None:
    comic = make_comic(
        tmp_path,
        [
            {
                "layout": "grid-2x2",
                "gutter": "10pt",
                "margin": "20pt",
                "panel": [{} for _ in range(4)],
            }
        ],
    )
    top_left, top_right, bottom_left, _ = layout_frames(comic, 0, None)
    assert top_left.rect.x == pytest.approx(20)
    assert top_left.rect.y == pytest.approx(20)
    assert top_right.rect.x - top_left.rect.right == pytest.approx(10)
    assert bottom_left.rect.y - top_left.rect.bottom == pytest.approx(10)
    assert top_right.rect.right == pytest.approx(comic.comic.trim_points()[0] - 20)


def test_fewer_panels_drop_tiers(tmp_path: Path) -> None:
    _, three = frames(tmp_path, "grid-2x2", 3)
    assert three[2].rect.w == pytest.approx(three[1].rect.right - three[0].rect.x)
    _, two = frames(tmp_path, "three-tier", 2)
    assert two[0].rect.h == pytest.approx(two[1].rect.h)


def test_splash_bleeds_off_every_edge(tmp_path: Path) -> None:
    comic, (frame,) = frames(tmp_path, "splash", 1)
    geometry = page_geometry(comic, 0)
    assert frame.rect == geometry.media
    assert frame.bleed_edges == ("left", "top", "right", "bottom")
    assert frame.border_edges == ()


def test_rtl_mirrors_frames_and_reads_right_to_left(tmp_path: Path) -> None:
    _, ltr = frames(tmp_path, "wide-over-two", 3)
    comic, rtl = frames(tmp_path, "wide-over-two", 3, reading="rtl")
    width = comic.comic.trim_points()[0]
    for a, b in zip(ltr, rtl, strict=True):
        assert b.rect.x == pytest.approx(width - a.rect.right)
        assert b.rect.y == pytest.approx(a.rect.y)
    # Panel 2 (first of the lower pair) is on the right in rtl.
    assert rtl[1].rect.x > rtl[2].rect.x
    assert ltr[1].rect.x < ltr[2].rect.x


def write_template(project: Path, name: str, text: str) -> Path:
    path = project / "templates" / "layouts" / f"{name}.toml.j2"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_project_template_overrides_builtin(tmp_path: Path) -> None:
    path = write_template(
        tmp_path,
        "splash",
        "capacity = 1\nmirror_rtl = false\n"
        "[[frame]]\nx = 0\ny = 0\nw = {{ width / 2 }}\nh = {{ height / 2 }}\n",
    )
    info = available_layouts(tmp_path)["splash"]
    assert info.path == path and not info.builtin and not info.mirror_rtl
    comic, (frame,) = frames(tmp_path, "splash", 1, project=tmp_path, reading="rtl")
    area = page_geometry(comic, 0).panel_area
    assert frame.rect.x == pytest.approx(area.x)  # mirror_rtl = false: not mirrored
    assert frame.rect.w == pytest.approx(area.w / 2)
    assert frame.bleed_edges == ()


@pytest.mark.parametrize(
    "body",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{% set escape = cycler.__init__.__globals__ %}",
        "{{ width['__class__'] }}",
    ],
)
def test_sandbox_escapes_are_refused_naming_the_template(tmp_path: Path, body: str) -> None:
    path = write_template(
        tmp_path,
        "evil",
        f"capacity = 1\n{body}\n[[frame]]\nx = 0\ny = 0\n"
        "w = {{ width }}\nh = {{ height }}\n",
    )
    with pytest.raises(AuthorError) as caught:
        frames(tmp_path, "evil", 1, project=tmp_path)
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.file == path
    assert "sandbox" in diagnostic.message
    assert diagnostic.line == 2


@pytest.mark.parametrize(
    ("frames_toml", "message"),
    [
        (
            FIRST + "[[frame]]\nx = 50\ny = 50\nw = 100\nh = 100\n",
            "overlap",
        ),
        (
            FIRST + "[[frame]]\nx = 2000\ny = 0\nw = 100\nh = 100\n",
            "off the page",
        ),
        (
            FIRST + "[[frame]]\nx = 200\ny = 0\nw = 0\nh = 100\n",
            "too small",
        ),
        ("[[frame]]\nx = 0\ny = 0\nw = 100\nh = 100\n", "1 frames for 2 panels"),
    ],
)
def test_invalid_geometry_names_the_template(tmp_path: Path, frames_toml: str, message: str):
    path = write_template(tmp_path, "bad", "capacity = 2\n" + frames_toml)
    with pytest.raises(AuthorError) as caught:
        frames(tmp_path, "bad", 2, project=tmp_path)
    assert caught.value.diagnostics[0].file == path
    assert message in caught.value.diagnostics[0].message


def test_unknown_layout_suggests_a_name(tmp_path: Path) -> None:
    with pytest.raises(AuthorError) as caught:
        frames(tmp_path, "grid-2x3", 1)
    diagnostic = caught.value.diagnostics[0]
    assert diagnostic.key_path == ("page", 0, "layout")
    assert "grid-2x2" in (diagnostic.hint or "")


def test_too_many_panels_for_the_layout(tmp_path: Path) -> None:
    with pytest.raises(AuthorError, match="holds exactly 1"):
        frames(tmp_path, "splash", 2)
    with pytest.raises(AuthorError, match="holds 3 to 6"):
        frames(tmp_path, "six-panel", 2)


def test_undefined_variable_is_an_error_not_an_empty_string(tmp_path: Path) -> None:
    write_template(
        tmp_path,
        "typo",
        "capacity = 1\n[[frame]]\nx = 0\ny = 0\nw = {{ widht }}\nh = {{ height }}\n",
    )
    with pytest.raises(AuthorError, match="widht"):
        frames(tmp_path, "typo", 1, project=tmp_path)
