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

const isBoard = (name) => Object.prototype.hasOwnProperty.call(CAPTIONS, name ?? "");
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

const CHANGES = ["entered", "rose", "fell", "changed"];

// A learner's row, made once and then kept while they stay on the board, so that a screen
// reader's place and any selection survive an update. The name is a row header.
function newRow(entry) {
  const tr = document.createElement("tr");
  tr.dataset.userId = entry.user_id;
  const name = document.createElement("th");
  name.scope = "row";
  name.append(document.createElement("bdi")); // a right-to-left name keeps to itself
  if (entry.user_id === viewer) {
    tr.classList.add("me");
    tr.setAttribute("aria-current", "true");
    const badge = document.createElement("span");
    badge.className = "you";
    badge.textContent = "you";
    name.append(" ", badge);
  }
  tr.append(document.createElement("td"), name, document.createElement("td"));
  return tr;
}

function fill(tr, entry) {
  const [rank, name, score] = tr.children;
  rank.textContent = String(entry.rank);
  name.firstChild.textContent = entry.display_name; // never markup: names are plain text
  score.textContent = entry.points.toLocaleString("en");
}

// How a learner's row changed since the snapshot before, as the class that animates it.
function change(entry, before) {
  if (!before) return "entered";
  if (entry.rank < before.rank) return "rose";
  if (entry.rank > before.rank) return "fell";
  return entry.points === before.points ? "" : "changed";
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

// What happened to each learner, in words, with the rank and points it is about; the
// newest news of a learner replaces older and goes to the end.
function collectNews(byUser, entries) {
  for (const entry of entries) {
    const was = byUser.get(entry.user_id);
    const name = entry.display_name;
    let text;
    if (!was) text = `${name} entered the top 10 at ${ordinal(entry.rank)}`;
    else if (entry.rank < was.rank) text = `${name} moved up to ${ordinal(entry.rank)}`;
    else if (entry.rank === was.rank && entry.points !== was.points)
      text = `${name} now has ${points(entry.points)}`;
    if (!text) continue;
    news.delete(entry.user_id);
    news.set(entry.user_id, { rank: entry.rank, points: entry.points, text });
  }
}

// The polite live region says at most three things, the newest still true of the board on
// screen, at most every ANNOUNCE_EVERY_MS, so a busy board does not talk without end.
function announce() {
  if (!news.size || newsTimer) return;
  const wait = Math.max(0, announcedAt + ANNOUNCE_EVERY_MS - performance.now());
  newsTimer = setTimeout(() => {
    newsTimer = 0;
    const still = [...news].filter(([user, item]) => {
      const now = shown?.byUser.get(user);
      return now && now.rank === item.rank && now.points === item.points;
    });
    news = new Map();
    if (!still.length) return;
    announcedAt = performance.now();
    announcer.textContent = `${still.slice(-3).map(([, item]) => item.text).join(". ")}.`;
  }, wait);
}

// The rows that may stay where they are: the longest run of the current rows already in
// the new order (at most ten rows, so the quadratic search is nothing).
function rowsInPlace(current, rows) {
  const at = current.map((tr) => rows.indexOf(tr));
  const runs = at.map(() => []);
  at.forEach((position, i) => {
    runs[i] = [i];
    for (let j = 0; j < i; j++) {
      if (at[j] < position && runs[j].length + 1 > runs[i].length) runs[i] = [...runs[j], i];
    }
  });
  const longest = runs.reduce((best, run) => (run.length > best.length ? run : best), []);
  return new Set(longest.map((i) => current[i]));
}

// Puts the snapshot's rows in order with the fewest moves (a leader falling to 10th moves
// one row, not nine), then lets the rows that changed flash and slide from where they were.
function render(snapshot) {
  // Versions rise across periods too, so an older snapshot is refused first, whatever its
  // period: a lagging replica just after midnight must not bring yesterday back.
  if (shown && snapshot.version <= shown.version) return;
  if (shown && snapshot.period_start !== shown.period_start) {
    shown = null; // a new day or week: nothing of the old one is news
    news = new Map();
  }
  const kept = new Map([...body.rows].map((tr) => [tr.dataset.userId, tr]));
  const tops = new Map([...kept].map(([user, tr]) => [user, tr.getBoundingClientRect().top]));
  const rows = snapshot.entries.map((entry) => kept.get(entry.user_id) ?? newRow(entry));
  for (const tr of kept.values()) if (!rows.includes(tr)) tr.remove();
  const stay = rowsInPlace([...body.rows], rows);
  for (let i = rows.length - 1; i >= 0; i--) {
    fill(rows[i], snapshot.entries[i]);
    rows[i].classList.remove(...CHANGES);
    if (!stay.has(rows[i])) body.insertBefore(rows[i], rows[i + 1] ?? null);
  }
  if (shown) {
    void body.offsetHeight; // a class taken off and put back restarts its animation
    snapshot.entries.forEach((entry, index) => {
      const changed = change(entry, shown.byUser.get(entry.user_id));
      if (changed) rows[index].classList.add(changed);
    });
    slide(rows, tops);
    collectNews(shown.byUser, snapshot.entries);
  }
  empty.hidden = rows.length > 0;
  panel.removeAttribute("aria-busy");
  table.dataset.version = String(snapshot.version);
  shown = { ...snapshot, byUser: new Map(snapshot.entries.map((e) => [e.user_id, e])) };
  announce();
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
    // Live once there is a board to show: a reconnect whose board has not changed gets no
    // snapshot (Last-Event-ID), a new stream gets one at once.
    if (shown) setConnection("live", "Live");
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
  panel.setAttribute("aria-busy", "true"); // until the new board's first snapshot
  // While live, the new stream opens within moments: the status stays, so that screen
  // readers do not hear "Connecting… Live" at every tab.
  if (connection.dataset.state !== "live") setConnection("connecting", "Connecting…");
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
