"""The report in a real headless Chromium: every picture decodes, nothing errs or fetches."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.report.conftest import fake_build

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium() -> str:
    for candidate in (os.environ.get("COMICC_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip("no Chromium found (install Debian's `chromium` or set COMICC_CHROMIUM)")


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the playwright package is not installed")
    executable = _chromium()
    fake = fake_build(tmp_path / "comic")
    report = fake.write()
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except sync_api.Error as exc:
            # Installed but broken is a failure, not a skip: CI must not go green without it.
            pytest.fail(f"Chromium at {executable} would not start: {exc}")
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            images = page.evaluate(
                "Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
            missing_targets = page.evaluate(
                "Array.from(document.querySelectorAll('a[href^=\"#\"]'))"
                ".filter(a => !document.getElementById(a.getAttribute('href').slice(1)))"
                ".map(a => a.getAttribute('href'))")
            charts = page.evaluate(
                "Array.from(document.querySelectorAll('svg polyline'))"
                ".map(p => p.getBBox().width)")
            page.click("td.miss a")
            target = page.evaluate("location.hash")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert images and all(done and width > 0 for done, width in images), images
    assert missing_targets == []
    assert charts and all(width > 0 for width in charts)
    assert target in ("#panel-1-1", "#panel-1-2")
    assert requests == [report.as_uri()]  # data: images are not requests; nothing is fetched
    assert shot.stat().st_size > 10_000
