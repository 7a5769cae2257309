"""Saves a picture of a running scoreboard page, as the README shows it.

    .venv/bin/python scripts/screenshot.py http://127.0.0.1:8000/?me=demo-kemi docs/scoreboard.png

Uses Debian's Chromium through Playwright, like the page tests.
"""

from __future__ import annotations

import asyncio
import sys

from playwright.async_api import async_playwright

CHROMIUM = "/usr/bin/chromium"


async def screenshot(url: str, path: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(
            viewport={"width": 720, "height": 760}, device_scale_factor=1
        )
        await page.emulate_media(reduced_motion="reduce")
        await page.goto(url)
        await page.locator('#connection[data-state="live"]').wait_for()
        await page.locator("#board tbody tr").first.wait_for()
        await page.wait_for_timeout(1500)  # the viewer's place arrives after a short delay
        await page.screenshot(path=path, full_page=True)
        await browser.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: screenshot.py URL PNG")
    asyncio.run(screenshot(sys.argv[1], sys.argv[2]))
