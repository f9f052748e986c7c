"""A real browser for the portal's tests: Debian's Chromium driven by Playwright, and axe-core to check
pages for WCAG 2.1 A and AA violations (a plain module, not a test file)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("TEMPEN_CHROMIUM", "/usr/bin/chromium")
AXE = (Path(__file__).parents[1] / "vendor" / "axe.min.js").read_text(encoding="utf-8")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium_path() -> str:
    """Chromium's executable; call it before starting anything, so a missing browser fails at once."""
    found = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:  # a real part that cannot run here fails loudly, never skips
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package (as root)")
    return found


@asynccontextmanager
async def chromium(executable: str) -> AsyncIterator[Any]:
    """A headless Chromium, closed on the way out whatever the test did."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def axe_violations(page: Any) -> list[tuple[str, list[Any]]]:
    """axe-core's WCAG 2.1 A/AA violations on the page, as (rule, targets); the page needs script on."""
    await page.evaluate(AXE)
    result = await page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in result["violations"]]
