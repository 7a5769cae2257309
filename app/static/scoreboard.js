// The live board: one EventSource for the board on screen, each event a whole snapshot of
// its top 10. No build step and nothing from outside the service.
"use strict";

const CAPTIONS = { day: "Today (UTC)", week: "This week (UTC)", all: "All time" };
const params = new URLSearchParams(location.search);
// The embedding site may say who is watching (`?me=<user id>`): their row is highlighted and
// their own place shown below the board. It is only a highlight, never a credential.
const viewer = params.get("me");
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");
const ordinals = new Intl.PluralRules("en", { type: "ordinal" });
const SUFFIXES = { one: "st", two: "nd", few: "rd", other: "th" };
const VIEWER_REFRESH_MS = 15000;

const table = document.getElementById("board");
const body = table.querySelector("tbody");
const panel = document.getElementById("panel");
const connection = document.getElementById("connection");
const announcer = document.getElementById("announcer");
const empty = document.getElementById("empty");
const mine = document.getElementById("mine");
const tabs = [...document.querySelectorAll('[role="tab"]')];

let board = CAPTIONS[params.get("board")] ? params.get("board") : "all";
let source = null;
let shown = null; // user id -> entry on screen; null until this board's first snapshot
let retryTimer = 0;
let mineTimer = 0;
let mineAskedAt = -Infinity;

const ordinal = (n) => `${n}${SUFFIXES[ordinals.select(n)]}`;
const points = (n) => `${n.toLocaleString("en")} ${n === 1 ? "point" : "points"}`;

function setConnection(state, text) {
  connection.dataset.state = state;
  connection.textContent = text;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text; // never markup: names are plain text
  return td;
}

function row(entry, before) {
  const tr = document.createElement("tr");
  tr.dataset.userId = entry.user_id;
  const name = cell(entry.display_name);
  tr.append(cell(String(entry.rank)), name, cell(entry.points.toLocaleString("en")));
  if (entry.user_id === viewer) {
    tr.classList.add("me");
    tr.setAttribute("aria-current", "true");
    const badge = document.createElement("span");
    badge.className = "you";
    badge.textContent = "you";
    name.append(" ", badge);
  }
  if (shown && !before) tr.classList.add("entered");
  else if (before && entry.rank < before.rank) tr.classList.add("rose");
  else if (before && entry.rank > before.rank) tr.classList.add("fell");
  else if (before && entry.points !== before.points) tr.classList.add("changed");
  return tr;
}

// Rows slide from where they were to where they are now (first, last, invert, play).
function slide(rows, tops) {
  if (reducedMotion.matches) return;
  const moved = [];
  for (const tr of rows) {
    const top = tops.get(tr.dataset.userId);
    const shift = top === undefined ? 0 : top - tr.getBoundingClientRect().top;
    if (shift) {
      tr.style.transition = "none";
      tr.style.transform = `translateY(${shift}px)`;
      moved.push(tr);
    }
  }
  if (!moved.length) return;
  void body.offsetHeight; // lay out the inverted rows before letting them move
  for (const tr of moved) {
    tr.style.transition = "";
    tr.style.transform = "";
  }
}

// What changed, in words, for the polite live region: the biggest moves first, at most three.
function describe(before, entries) {
  const news = [];
  for (const entry of entries) {
    const was = before.get(entry.user_id);
    if (!was) news.push(`${entry.display_name} entered the top 10 at ${ordinal(entry.rank)}`);
    else if (entry.rank < was.rank)
      news.push(`${entry.display_name} moved up to ${ordinal(entry.rank)}`);
    else if (entry.rank === was.rank && entry.points !== was.points)
      news.push(`${entry.display_name} now has ${points(entry.points)}`);
  }
  return news.slice(0, 3).join(". ");
}

function render(snapshot) {
  const tops = new Map([...body.rows].map((tr) => [tr.dataset.userId, tr.getBoundingClientRect().top]));
  const rows = snapshot.entries.map((entry) => row(entry, shown?.get(entry.user_id)));
  body.replaceChildren(...rows);
  slide(rows, tops);
  empty.hidden = rows.length > 0;
  table.dataset.version = String(snapshot.version);
  if (shown) {
    const news = describe(shown, snapshot.entries);
    if (news) announcer.textContent = `${news}.`;
  }
  shown = new Map(snapshot.entries.map((entry) => [entry.user_id, entry]));
  showViewer(snapshot);
}

function setMine(text) {
  mine.textContent = text;
  mine.hidden = false;
}

// The viewer's place: from the snapshot when they are in it, otherwise asked of the rank
// route: soon after the board is shown, then at most every VIEWER_REFRESH_MS while it
// changes, each time after a random delay so that thousands of browsers do not ask at once.
function showViewer(snapshot) {
  if (!viewer) return;
  const entry = snapshot.entries.find((e) => e.user_id === viewer);
  if (entry) {
    setMine(`You are ${ordinal(entry.rank)} with ${points(entry.points)}.`);
    return;
  }
  if (mineTimer) return;
  const asked = board;
  const due = Math.max(0, mineAskedAt + VIEWER_REFRESH_MS - performance.now());
  mineTimer = setTimeout(async () => {
    mineTimer = 0;
    mineAskedAt = performance.now();
    try {
      const url = `/api/users/${encodeURIComponent(viewer)}/rank?board=${asked}&neighbours=0`;
      const response = await fetch(url);
      if (asked !== board) return;
      if (response.status === 404) setMine("Complete a lesson to join the board.");
      if (!response.ok) return;
      const info = await response.json();
      setMine(info.rank ? `You are ${ordinal(info.rank)} with ${points(info.points)}.`
                        : "No points yet in this period.");
    } catch {
      // offline: the connection state already says so, and the next snapshot asks again
    }
  }, due + 300 + Math.random() * 700);
}

function connect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  const opened = new EventSource(`/api/leaderboard/stream?board=${board}`);
  source = opened;
  opened.addEventListener("open", () => setConnection("live", "Live"));
  opened.addEventListener("error", () => {
    if (opened !== source) return;
    setConnection("reconnecting", "Reconnecting…");
    // The browser retries by itself after a network error, but gives up for good after an
    // error status (a proxy's 502, a 429): then try again here, a little later.
    if (opened.readyState === EventSource.CLOSED) {
      retryTimer = setTimeout(connect, 2000 + Math.random() * 3000);
    }
  });
  opened.addEventListener("leaderboard", (event) => {
    if (opened !== source) return;
    setConnection("live", "Live");
    render(JSON.parse(event.data));
  });
}

function select(next, { focus = false, remember = true } = {}) {
  board = next;
  for (const tab of tabs) {
    const chosen = tab.dataset.board === next;
    tab.setAttribute("aria-selected", String(chosen));
    tab.tabIndex = chosen ? 0 : -1;
    if (chosen) {
      panel.setAttribute("aria-labelledby", tab.id);
      if (focus) tab.focus();
    }
  }
  table.querySelector("caption").textContent = CAPTIONS[next];
  if (remember) {
    const url = new URL(location.href);
    url.searchParams.set("board", next); // a reload or a shared link keeps the period
    history.replaceState(null, "", url);
  }
  shown = null;
  body.replaceChildren();
  empty.hidden = true;
  mine.hidden = true;
  clearTimeout(mineTimer);
  mineTimer = 0;
  mineAskedAt = -Infinity;
  delete table.dataset.version;
  setConnection("connecting", "Connecting…");
  connect();
}

tabs.forEach((tab, index) => {
  tab.addEventListener("click", () => {
    if (tab.dataset.board !== board) select(tab.dataset.board);
  });
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: tabs.length - 1 - index }[
      event.key
    ];
    if (step === undefined) return;
    event.preventDefault();
    select(tabs[(index + step + tabs.length) % tabs.length].dataset.board, { focus: true });
  });
});

select(board, { remember: false });
