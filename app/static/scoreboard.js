// The live board: one EventSource, each event a whole snapshot of the top 10.
"use strict";

const params = new URLSearchParams(location.search);
const board = ["all", "week", "day"].includes(params.get("board")) ? params.get("board") : "all";
const captions = { all: "All time", week: "This week (UTC)", day: "Today (UTC)" };
const body = document.querySelector("#board tbody");
const connection = document.getElementById("connection");
const announcer = document.getElementById("announcer");
let shown = new Map();

function setConnection(state, text) {
  connection.dataset.state = state;
  connection.textContent = text;
}

function render(snapshot) {
  const rows = snapshot.entries.map((entry) => {
    const row = document.createElement("tr");
    row.dataset.userId = entry.user_id;
    for (const value of [entry.rank, entry.display_name, entry.points]) {
      const cell = document.createElement("td");
      cell.textContent = String(value);  // never markup: names are plain text
      row.append(cell);
    }
    const before = shown.get(entry.user_id);
    if (before && (before.rank !== entry.rank || before.points !== entry.points)) {
      row.classList.add("changed");
    }
    return row;
  });
  body.replaceChildren(...rows);
  document.getElementById("empty").hidden = rows.length > 0;
  document.getElementById("board").dataset.version = String(snapshot.version);
  const leader = snapshot.entries[0];
  if (shown.size && leader) {
    announcer.textContent = `Board updated. First: ${leader.display_name}, ${leader.points} points.`;
  }
  shown = new Map(snapshot.entries.map((entry) => [entry.user_id, entry]));
}

function connect() {
  document.querySelector("#board caption").textContent = captions[board];
  const source = new EventSource(`/api/leaderboard/stream?board=${board}`);
  source.addEventListener("open", () => setConnection("live", "Live"));
  source.addEventListener("error", () => setConnection("reconnecting", "Reconnecting…"));
  source.addEventListener("leaderboard", (event) => {
    setConnection("live", "Live");
    render(JSON.parse(event.data));
  });
}

connect();
