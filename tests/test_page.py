"""The page in a real headless Chromium: it shows the board and follows it live."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.conftest import Server
from tests.test_http import complete

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


async def test_the_page_shows_the_board_and_moves_within_a_second(
    server: Server, browser: Browser
) -> None:
    complete(server, server.token("ann", name="Ann"), "lesson-3")
    page = await browser.new_page()
    await page.goto(server.url)
    rows = page.locator("#board tbody tr")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Ann")

    started = time.monotonic()
    complete(server, server.token("bob", name="<img src=x onerror=alert(1)>"), "lesson-7")
    await expect(rows).to_have_count(2, timeout=1000)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert await rows.nth(0).locator("td").all_inner_texts() == [
        "1",
        "<img src=x onerror=alert(1)>",
        "70",
    ]
    assert await page.locator("#board img").count() == 0, "names are text, never markup"
