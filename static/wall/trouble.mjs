// podwall: fades the marks of trouble that only time ends. A restart is "recent" for an
// hour (the server's RECENT): the server marks the block when it renders it, but nothing
// changes in the cluster when the hour is over, so the page takes the mark off itself.

import { RECENT_MS } from "./constants.mjs";

const wall = document.getElementById("wall");

/** Takes the recent-restart mark off blocks whose last restart is now older than RECENT. */
export function fadeRestarts(now) {
  for (const pod of wall.querySelectorAll(".pod.rr")) {
    const at = Date.parse(pod.dataset.lastRestart || "");
    if (Number.isNaN(at) || now - at >= RECENT_MS) pod.classList.remove("rr");
  }
}
