// podwall: node boxes that went. A box that goes leaves an empty, unmarked cell (a ghost)
// instead of closing the gap at once: closing it moves every box after it, and on a
// thousand-node wall that one frame costs ~100 ms of layout, paint and compositing. The
// ghosts go all at once (compact) when they are more than COMPACT_SHARE of the cells or
// the oldest is COMPACT_MS old, so a cluster losing nodes costs one such frame now and
// then, not one per node.

import { COMPACT_MS, COMPACT_SHARE } from "./constants.mjs";
import { forget, touch } from "./counts.mjs";
import { invalidate } from "./board.mjs";

const wall = document.getElementById("wall");

// When the oldest ghost appeared (0: none), and how many there are.
let firstGhost = 0;
let ghosts = 0;

/** The ghosts are due to go. */
export function compactDue(now) {
  if (!ghosts) return false;
  const container = wall.querySelector(".nodes");
  const cells = container ? container.children.length : 0;
  return ghosts > Math.max(2, cells * COMPACT_SHARE) || now - firstGhost > COMPACT_MS;
}

/** Turns a node box into a ghost: emptied, without id or markers (tools see it gone). */
export function dropBox(box) {
  box.removeAttribute("id");
  box.removeAttribute("data-node");
  box.removeAttribute("aria-label");
  box.setAttribute("aria-hidden", "true");
  box.className = "node ghost";
  box.replaceChildren();
  // Still touched: the board draws the empty cell (counts skip boxes without an id).
  touch(box);
  forget(box);
  if (!firstGhost) firstGhost = Date.now();
  ghosts += 1;
}

/** Removes every ghost, closing the gaps. */
export function compact() {
  invalidate();
  firstGhost = 0;
  ghosts = 0;
  for (const ghost of wall.querySelectorAll(".nodes > .ghost")) ghost.remove();
}
