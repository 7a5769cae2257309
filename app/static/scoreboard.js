// The live board: one EventSource for the board on screen, each event a whole snapshot of
// its top 10. No build step and nothing from outside the service.
"use strict";

const CAPTIONS = { day: "Today (UTC)", week: "This week (UTC)", all: "All time" };
const SUFFIXES = { one: "st", two: "nd", few: "rd", other: "th" };
const VIEWER_REFRESH_MS = 15000; // the viewer's place outside the top 10, at most this often
const ANNOUNCE_EVERY_MS = 10000; // the live region speaks at most this often
const RETRY_MAX_MS = 60000; // after refused connections, wait at most this long
const REVIVE_AFTER_HIDDEN_MS = 30000; // a phone may have let the connection die meanwhile

const params = new URLSearchParams(location.search);
// The embedding site may say who is watching (`?me=<user id>`): their row is highlighted and
// their own place shown below the board. It is only a highlight, never a credential.
const viewer = params.get("me");
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");
const ordinals = new Intl.PluralRules("en", { type: "ordinal" });

const table = document.getElementById("board");
const body = table.querySelector("tbody");
const panel = document.getElementById("panel");
const connection = document.getElementById("connection");
const announcer = document.getElementById("announcer");
const empty = document.getElementById("empty");
const mine = document.getElementById("mine");
const tabs = [...document.querySelectorAll('[role="tab"]')];

const isBoard = (name) => Object.hasOwn(CAPTIONS, name ?? "");
let board = isBoard(params.get("board")) ? params.get("board") : "all";
let source = null;
let shown = null; // the snapshot on screen, with `byUser`; null until this board's first one
let generation = 0; // bumped whenever the board on screen is replaced by another
let retryTimer = 0;
let retries = 0;
let mineTimer = 0;
let mineAskedAt = -Infinity;
let news = new Map(); // user id -> what happened to them, not yet announced
let newsTimer = 0;
let announcedAt = -Infinity;
let hiddenAt = null;

const ordinal = (n) => `${n}${SUFFIXES[ordinals.select(n)]}`;
const points = (n) => `${n.toLocaleString("en")} ${n === 1 ? "point" : "points"}`;

function setConnection(state, text) {
  if (connection.dataset.state === state) return; // a status region speaks on each change
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
  const name = document.createElement("td");
  const isolated = document.createElement("bdi"); // a right-to-left name keeps to itself
  isolated.textContent = entry.display_name;
  name.append(isolated);
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

// What happened to each learner, in words; the newest news of a learner replaces older.
function collectNews(byUser, entries) {
  for (const entry of entries) {
    const was = byUser.get(entry.user_id);
    const name = entry.display_name;
    if (!was) news.set(entry.user_id, `${name} entered the top 10 at ${ordinal(entry.rank)}`);
    else if (entry.rank < was.rank) news.set(entry.user_id, `${name} moved up to ${ordinal(entry.rank)}`);
    else if (entry.rank === was.rank && entry.points !== was.points)
      news.set(entry.user_id, `${name} now has ${points(entry.points)}`);
  }
}

// The polite live region says at most three things, at most every ANNOUNCE_EVERY_MS, so a
// busy board does not talk without end.
function announce() {
  if (!news.size || newsTimer) return;
  const wait = Math.max(0, announcedAt + ANNOUNCE_EVERY_MS - performance.now());
  newsTimer = setTimeout(() => {
    newsTimer = 0;
    announcedAt = performance.now();
    announcer.textContent = `${[...news.values()].slice(0, 3).join(". ")}.`;
    news = new Map();
  }, wait);
}

function render(snapshot) {
  if (shown && snapshot.period_start !== shown.period_start) shown = null; // a new day or week
  if (shown && snapshot.version <= shown.version) return; // older news from another replica
  const tops = new Map([...body.rows].map((tr) => [tr.dataset.userId, tr.getBoundingClientRect().top]));
  const rows = snapshot.entries.map((entry) => row(entry, shown?.byUser.get(entry.user_id)));
  body.replaceChildren(...rows);
  if (shown) slide(rows, tops);
  empty.hidden = rows.length > 0;
  table.dataset.version = String(snapshot.version);
  if (shown) {
    collectNews(shown.byUser, snapshot.entries);
    announce();
  }
  shown = { ...snapshot, byUser: new Map(snapshot.entries.map((e) => [e.user_id, e])) };
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
    clearTimeout(mineTimer);
    mineTimer = 0;
    setMine(`You are ${ordinal(entry.rank)} with ${points(entry.points)}.`);
    return;
  }
  if (mineTimer) return;
  const asked = generation;
  const due = Math.max(0, mineAskedAt + VIEWER_REFRESH_MS - performance.now());
  mineTimer = setTimeout(async () => {
    mineTimer = 0;
    mineAskedAt = performance.now();
    const url = `/api/users/${encodeURIComponent(viewer)}/rank?board=${board}&neighbours=0`;
    let text;
    try {
      const response = await fetch(url);
      if (response.status === 404) text = "Complete a lesson to join the board.";
      else if (response.ok) {
        const info = await response.json();
        text = info.rank ? `You are ${ordinal(info.rank)} with ${points(info.points)}.`
                         : "No points yet in this period.";
      }
    } catch {
      // offline: the connection state already says so, and the next snapshot asks again
    }
    // Another board, or the viewer's row, may have come meanwhile: then this is stale.
    if (text && asked === generation && !shown?.byUser.has(viewer)) setMine(text);
  }, due + 300 + Math.random() * 700);
}

function connect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  const opened = new EventSource(`/api/leaderboard/stream?board=${board}`);
  source = opened;
  opened.addEventListener("open", () => {
    retries = 0;
    setConnection("live", "Live");
  });
  opened.addEventListener("error", () => {
    if (opened !== source) return;
    setConnection("reconnecting", "Reconnecting…");
    // The browser retries by itself after a network error, but gives up for good after an
    // error status (a proxy's 502, a 429): then try again here, waiting longer each time.
    if (opened.readyState === EventSource.CLOSED) {
      const ceiling = Math.min(RETRY_MAX_MS, 2000 * 2 ** retries++);
      retryTimer = setTimeout(connect, ceiling / 2 + Math.random() * (ceiling / 2));
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
  generation += 1;
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
  clearTimeout(newsTimer);
  newsTimer = 0;
  news = new Map();
  delete table.dataset.version;
  retries = 0;
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
    const target = tabs[(index + step + tabs.length) % tabs.length];
    if (target.dataset.board === board) target.focus();
    else select(target.dataset.board, { focus: true });
  });
});

// A phone puts a page in the background and may let its connection die without a word;
// coming back after a while, or back online, or from the back-forward cache, start afresh.
document.addEventListener("visibilitychange", () => {
  if (document.hidden) hiddenAt = performance.now();
  else if (hiddenAt !== null && performance.now() - hiddenAt > REVIVE_AFTER_HIDDEN_MS) connect();
});
addEventListener("online", connect);
addEventListener("pageshow", (event) => {
  if (event.persisted && source?.readyState === EventSource.CLOSED) connect();
});

select(board, { remember: false });
