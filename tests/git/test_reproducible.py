"""Reproducible books: the same inputs, options and seed give the same bytes, wherever built."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pypdf
import pytest

from comicc.engine.pipeline import build
from comicc.engine.request import BuildRequest
from comicc.manifest.load import load_project

ROOT = Path(__file__).resolve().parents[2]


def build_copies(project: Path, tmp_path: Path, request: BuildRequest) -> list[bytes]:
    """Copy `project` into two differently named folders, build each, return the two outputs."""
    books = []
    for name in ("first", "second-copy"):
        copy = tmp_path / name / "comic"
        shutil.copytree(project, copy)
        result = build(load_project(copy), request)
        books.append(result.output.read_bytes())
    return books


def pdf_text(path: Path) -> bytes:
    """The file's bytes followed by every stream decompressed, for searching."""
    reader = pypdf.PdfReader(path)
    parts = [path.read_bytes()]
    for number in range(1, reader.trailer["/Size"]):
        try:
            obj = reader.get_object(number)
        except Exception:  # free entries in the cross-reference table
            continue
        if isinstance(obj, pypdf.generic.StreamObject):
            parts.append(obj.get_data())
    return b"\n".join(parts)


def test_pdf_is_byte_identical_across_folders(tiny_comic: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    first, second = build_copies(tiny_comic, tmp_path, BuildRequest(backend="none", report=False))
    assert first == second
    # Nothing about where or when it was built: no folder names, no dates.
    searched = pdf_text(tmp_path / "first" / "comic" / "comic.pdf")
    assert b"Good morning" in searched  # the lettering is found, so the search reaches streams
    for word in (str(tmp_path).encode(), b"first", b"CreationDate", b"ModDate"):
        assert word not in searched
    metadata = pypdf.PdfReader(tmp_path / "first" / "comic" / "comic.pdf").metadata
    assert metadata.title == "Two Pages" and metadata.creation_date is None


def test_source_date_epoch_sets_the_date_reproducibly(tiny_comic: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    first, second = build_copies(tiny_comic, tmp_path, BuildRequest(backend="none", report=False))
    assert first == second
    reader = pypdf.PdfReader(tmp_path / "first" / "comic" / "comic.pdf")
    assert reader.metadata["/CreationDate"] == "D:20231114221320+00'00'"
    assert reader.metadata["/ModDate"] == reader.metadata["/CreationDate"]


def test_cbz_is_byte_identical_across_folders(tiny_comic: Path, tmp_path: Path) -> None:
    request = BuildRequest(backend="none", format="cbz", report=False)
    first, second = build_copies(tiny_comic, tmp_path, request)
    assert first == second
    with zipfile.ZipFile(tmp_path / "first" / "comic" / "comic.cbz") as archive:
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert b"first" not in archive.read("ComicInfo.xml")


def test_separate_processes_with_different_hash_seeds_agree(tiny_comic: Path,
                                                            tmp_path: Path) -> None:
    """Neither set and dict ordering nor the local time zone may reach the bytes."""
    books = []
    for seed, zone in (("1", "UTC"), ("2", "America/New_York")):
        copy = tmp_path / f"seed-{seed}"
        shutil.copytree(tiny_comic, copy)
        env = os.environ | {"PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT), "TZ": zone,
                            "SOURCE_DATE_EPOCH": "1700000000"}
        subprocess.run([sys.executable, "-m", "comicc", "build", str(copy), "-q", "--no-report",
                        "-o", str(copy / "book.pdf")], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        books.append((copy / "book.pdf").read_bytes())
    assert books[0] == books[1]
    assert b"D:20231114221320+00'00'" in books[0]
