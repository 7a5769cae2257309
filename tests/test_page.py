"""The page in a real headless Chromium: it shows the board and follows it live."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from playwright.async_api import Browser, Route, async_playwright, expect

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
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    await page.goto(server.url)
    rows = page.locator("#board tbody tr")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    assert requested and all(url.startswith(f"{server.url}/") for url in requested), requested
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Ann")

    started = time.monotonic()
    complete(server, server.token("bob", name="<img src=x onerror=alert(1)>"), "lesson-7")
    await expect(rows).to_have_count(2, timeout=1000)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert await rows.nth(0).locator("td, th").all_inner_texts() == [
        "1",
        "<img src=x onerror=alert(1)>",
        "70",
    ]
    assert await page.locator("#board img").count() == 0, "names are text, never markup"


def complete_days_ago(db_url: str, user: str, lesson: str, hours: int) -> None:
    """Records a completion that happened `hours` ago (sent late, as a phone offline does)."""
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "select * from scoreboard.record_completion_v2(gen_random_uuid(), %s, %s, %s, "
            "now() - make_interval(hours => %s), 'digest', %s, 100000)",
            (user, user.title(), lesson, hours, user),
        )


async def test_the_tabs_switch_between_today_this_week_and_all_time(
    server: Server, browser: Browser, db_url: str
) -> None:
    complete_days_ago(db_url, "vera", "lesson-9", 60)
    complete(server, server.token("ann", name="Ann"), "lesson-3")
    page = await browser.new_page()
    await page.goto(server.url)
    rows = page.locator("#board tbody tr")
    all_time, today = (
        page.get_by_role("tab", name="All time"),
        page.get_by_role("tab", name="Today"),
    )
    await expect(all_time).to_have_attribute("aria-selected", "true")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("Vera")

    await today.click()
    await expect(today).to_have_attribute("aria-selected", "true")
    await expect(all_time).to_have_attribute("aria-selected", "false")
    await expect(page.locator("#board caption")).to_have_text("Today (UTC)")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Ann")
    assert "board=day" in page.url

    complete(server, server.token("bob", name="Bob"), "lesson-7")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("Bob")
    # A change of the all-time board alone, then one of today's: only the second shows.
    complete_days_ago(db_url, "wanda", "lesson-12", 60)
    complete(server, server.token("carl", name="Carl"), "lesson-1")
    await expect(rows).to_have_count(3)
    await expect(page.locator("#board tbody")).not_to_contain_text("Wanda")

    streams: list[str] = []
    page.on("request", lambda request: streams.append(request.url))
    await today.press("ArrowRight")
    week = page.get_by_role("tab", name="This week")
    await expect(week).to_be_focused()
    await expect(week).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#board caption")).to_have_text("This week (UTC)")
    await page.reload()
    await expect(week).to_have_attribute("aria-selected", "true")
    assert streams.count(f"{server.url}/api/leaderboard/stream?board=week") == 2, streams
    await expect(page.locator("#board tbody")).to_contain_text("Bob")  # Vera: this week or not


async def test_the_page_shows_reconnecting_while_the_server_restarts(
    server: Server, browser: Browser, db_url: str
) -> None:
    """And catches up after: a completion recorded while the service was away shows."""
    complete(server, server.token("ann", name="Ann"), "lesson-2")
    page = await browser.new_page()
    await page.goto(server.url)
    state = page.locator("#connection")
    rows = page.locator("#board tbody tr")
    await expect(state).to_have_attribute("data-state", "live")
    await expect(rows).to_have_count(1)

    await asyncio.to_thread(server.stop)
    await expect(state).to_have_attribute("data-state", "reconnecting", timeout=5000)
    await expect(state).to_have_text("Reconnecting…")
    complete_days_ago(db_url, "bob", "lesson-5", 0)
    await asyncio.to_thread(server.start)
    await expect(state).to_have_attribute("data-state", "live", timeout=10000)

    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text("Bob")


async def test_the_viewer_sees_their_own_row_and_place(server: Server, browser: Browser) -> None:
    """`?me=` highlights the viewer in the top 10, or tells their place below it."""
    for i in range(1, 12):
        complete(server, server.token(f"l{i:02}", name=f"Learner {i}"), f"lesson-{12 - i}")
    page = await browser.new_page()

    await page.goto(f"{server.url}/?me=l02")
    mine = page.locator("#board tbody tr.me")
    await expect(mine).to_have_count(1)
    await expect(mine).to_have_attribute("aria-current", "true")
    await expect(mine).to_have_attribute("data-user-id", "l02")
    await expect(mine.get_by_role("rowheader")).to_have_text("Learner 2 you")
    await expect(page.locator("#mine")).to_have_text("You are 2nd with 100 points.")

    await page.goto(f"{server.url}/?me=l11")
    await expect(page.locator("#board tbody tr")).to_have_count(10)
    await expect(page.locator("#board tbody tr.me")).to_have_count(0)
    await expect(page.locator("#mine")).to_have_text("You are 11th with 10 points.")


WATCH_NEXT_RENDER = """
() => {
  const body = document.querySelector("#board tbody");
  window.nextRender = new Promise((resolve) => {
    new MutationObserver((_, observer) => {
      observer.disconnect();
      requestAnimationFrame(() => resolve([...body.rows].map((tr) => ({
        user: tr.dataset.userId,
        classes: tr.className,
        marked: tr.dataset.marked === "yes",
        running: tr.getAnimations({ subtree: true })
          .map((a) => a.transitionProperty || a.animationName),
      }))));
    }).observe(body, { childList: true });
  });
}
"""


MARK_ROWS = """
() => { for (const tr of document.querySelectorAll("#board tbody tr")) tr.dataset.marked = "yes"; }
"""


async def test_a_rank_change_is_animated_and_told_to_screen_readers(
    server: Server, browser: Browser
) -> None:
    complete(server, server.token("ann", name="Ann"), "lesson-3")
    complete(server, server.token("bob", name="Bob"), "lesson-2")
    page = await browser.new_page()
    await page.goto(server.url)
    await expect(page.locator("#board tbody tr")).to_have_count(2)
    headers = page.get_by_role("table").get_by_role("columnheader")
    assert await headers.all_inner_texts() == ["Rank", "Learner", "Points"]
    assert await page.get_by_role("rowheader").all_inner_texts() == ["Ann", "Bob"]
    assert await page.locator("#announcer").get_attribute("aria-live") == "polite"

    await page.evaluate(MARK_ROWS)
    await page.evaluate(WATCH_NEXT_RENDER)
    complete(server, server.token("bob", name="Bob"), "lesson-4")
    rendered = await asyncio.wait_for(page.evaluate("window.nextRender"), 5)
    rows = {row["user"]: row for row in rendered}

    assert rows["bob"]["classes"] == "rose"
    assert "transform" in rows["bob"]["running"] and "rose" in rows["bob"]["running"]
    assert rows["ann"]["classes"] == "fell" and "transform" in rows["ann"]["running"]
    assert [row["marked"] for row in rendered] == [True, True], "rows are moved, not remade"
    await expect(page.locator("#announcer")).to_have_text("Bob moved up to 1st.")


async def test_the_page_fits_a_phone_screen(server: Server, browser: Browser) -> None:
    complete(server, server.token("max", name="M" * 64), "lesson-12")
    page = await browser.new_page(viewport={"width": 360, "height": 640}, is_mobile=True)
    await page.goto(f"{server.url}/?me=max")
    await expect(page.locator("#board tbody tr.me")).to_have_count(1)

    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow} px wider than the phone"
    for tab in await page.get_by_role("tab").all():
        await expect(tab).to_be_in_viewport()
    await expect(page.locator("#board tbody tr.me td").last).to_have_text("120")


async def test_an_error_answer_to_the_stream_is_retried_by_the_page(
    server: Server, browser: Browser
) -> None:
    """A browser gives up on a stream answered with an error status; the page does not."""
    complete(server, server.token("ann", name="Ann"), "lesson-1")
    page = await browser.new_page()
    refused: list[str] = []

    async def refuse_once(route: Route) -> None:
        if refused:
            await route.continue_()
        else:
            refused.append(route.request.url)
            await route.fulfill(status=502, body="bad gateway")

    await page.route("**/api/leaderboard/stream*", refuse_once)
    await page.goto(server.url)
    state = page.locator("#connection")
    await expect(state).to_have_attribute("data-state", "reconnecting")
    await expect(state).to_have_attribute("data-state", "live", timeout=10000)
    await expect(page.locator("#board tbody tr")).to_have_count(1)
    assert len(refused) == 1


async def test_an_unknown_board_in_the_address_shows_all_time(
    server: Server, browser: Browser
) -> None:
    page = await browser.new_page()
    for name in ("constructor", "__proto__", "month"):
        await page.goto(f"{server.url}/?board={name}")
        all_time = page.get_by_role("tab", name="All time")
        await expect(all_time).to_have_attribute("aria-selected", "true")
        await expect(all_time).to_have_attribute("tabindex", "0")
        await expect(page.locator("#board caption")).to_have_text("All time")
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


def stream_of(*snapshots: tuple[int, str, str]) -> str:
    """An SSE body of day-board snapshots: (version, its only learner, its period)."""
    frames = []
    for version, name, period in snapshots:
        entry = {"rank": 1, "user_id": name.lower(), "display_name": name, "points": version}
        data = {"board": "day", "period_start": period, "version": version, "entries": [entry]}
        frames.append(f"event: leaderboard\nid: {version}\ndata: {json.dumps(data)}\n\n")
    return "retry: 100\n\n" + "".join(frames)


RECORD_VERSIONS = """
window.versions = [];
document.addEventListener("DOMContentLoaded", () => {
  const board = document.getElementById("board");
  new MutationObserver(() => window.versions.push(board.dataset.version ?? null))
    .observe(board, { attributes: true, attributeFilter: ["data-version"] });
});
"""


@pytest.mark.parametrize(
    "older_period", ["2026-12-04T00:00:00+00:00", "2026-12-03T00:00:00+00:00"]
)
async def test_an_older_snapshot_does_not_replace_a_newer_one(
    server: Server, browser: Browser, older_period: str
) -> None:
    """A lagging replica may answer a reconnect with an older board, even one of the day
    before just after midnight: the page keeps its own."""
    page = await browser.new_page()
    await page.add_init_script(RECORD_VERSIONS)
    answered = 0

    async def lagging_replica(route: Route) -> None:
        nonlocal answered
        answered += 1
        body = stream_of((5, "Newer", "2026-12-04T00:00:00+00:00"), (3, "Older", older_period))
        await route.fulfill(status=200, content_type="text/event-stream", body=body)

    await page.route("**/api/leaderboard/stream*", lagging_replica)
    await page.goto(f"{server.url}/?board=day")
    await expect(page.locator("#board")).to_have_attribute("data-version", "5")
    for _ in range(100):  # the second answer is asked for once the first is read to its end
        if answered >= 2:
            break
        await asyncio.sleep(0.05)

    assert answered >= 2
    assert await page.evaluate("window.versions") == ["5"]
    await expect(page.locator("#board tbody")).to_have_text("1Newer5")


COUNT_ROW_MOVES = """
() => {
  const body = document.querySelector("#board tbody");
  window.rowMoves = 0;
  new MutationObserver((records) => {
    for (const record of records) window.rowMoves += record.removedNodes.length;
  }).observe(body, { childList: true });
}
"""


async def test_a_leader_falling_to_last_place_moves_one_row(
    server: Server, browser: Browser
) -> None:
    """Rows that keep their order stay in the document, so a screen reader's place and a
    selection in them survive: only the fallen leader's row moves."""
    for learner, lesson in [("ann", "lesson-12"), ("bob", "lesson-7"), ("cat", "lesson-5"),
                            ("dan", "lesson-3")]:  # fmt: skip
        complete(server, server.token(learner, name=learner.title()), lesson)
    page = await browser.new_page()
    await page.goto(server.url)
    rows = page.locator("#board tbody tr")
    await expect(rows).to_have_count(4)
    await page.evaluate(COUNT_ROW_MOVES)

    correction = {"correction_id": str(uuid.uuid4()), "user_id": "ann", "points": -100,
                  "reason": "counted twice"}  # fmt: skip
    admin = {"Authorization": f"Bearer {server.token('teacher', admin=True)}"}
    httpx.post(f"{server.url}/api/admin/corrections", json=correction, headers=admin)
    await expect(rows.last).to_contain_text("Ann")

    assert await page.get_by_role("rowheader").all_inner_texts() == ["Bob", "Cat", "Dan", "Ann"]
    assert await page.evaluate("window.rowMoves") == 1
