// podwall: what the stream cannot tell the page about trouble. A restart is "recent" for
// an hour (the server's RECENT): the server marks the block when it renders it, but
// nothing changes in the cluster when the hour is over, so the page takes the mark off
// itself. And a problems=1 page is never sent the healthy pods it folds away, so it asks
// the server how many there are (api/counts with its own filter).

import { RECENT_MS } from "./constants.mjs";

const wall = document.getElementById("wall");

/** Takes the recent-restart mark off blocks whose last restart is now older than RECENT. */
export function fadeRestarts(now) {
  for (const pod of wall.querySelectorAll(".pod.rr")) {
    const at = Date.parse(pod.dataset.lastRestart || "");
    if (Number.isNaN(at) || now - at >= RECENT_MS) pod.classList.remove("rr");
  }
}

const folded = document.querySelector("#count-folded b");

/** Asks the server how many healthy pods this problems=1 page folds away (no-op on other
 * pages). */
export function refreshFolded() {
  if (!folded) return;
  fetch("api/counts" + location.search, { cache: "no-store", credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (c) { if (c && typeof c.folded === "number") folded.textContent = String(c.folded); })
    .catch(function () { /* the connection banner says the server is away */ });
}
