// podwall: keeps the server-rendered wall live by applying /events fragments. Every
// fragment is HTML rendered by the server's templates; the page only places it, batching
// the DOM work of each animation frame so bursts of changes never freeze the page.
// The modules, one line each, and their order: docs/ui.md, "The page's script".

import { FOLDED_EVERY_S, SORT } from "./constants.mjs";
import { listen } from "./details.mjs";
import { arrange } from "./placement.mjs";
import { sortNodes } from "./order.mjs";
import { compact, compactDue } from "./ghosts.mjs";
import { shownPods } from "./counts.mjs";
import { refit, resized } from "./fit.mjs";
import { lastUpdated, recount, schedule } from "./scheduling.mjs";
import { closeWhenParked, connect, isStale, pause, pollSync } from "./connection.mjs";
import { showAge, showTime } from "./clock.mjs";
import { openWarningLinks, tickWarnings } from "./warnings.mjs";
import { fadeRestarts, refreshFolded } from "./trouble.mjs";
import { remark } from "./attention.mjs";
import { readRecent, remarkRecent } from "./recent.mjs";
import { rewound, startScrubber } from "./rewind.mjs";

const root = document.getElementById("wall-root");
const wall = document.getElementById("wall");

// Every second: the clock and the update age; a kiosk wall fits itself again now and
// then, sort=usage re-sorts once a minute, and ghost cells are closed when due.
function tick() {
  const now = new Date();
  showTime(now);
  showAge(now, lastUpdated(), isStale());
  tickWarnings(now.getTime());
  remark();
  remarkRecent();
  // The last count, not a query of every block (a 20,000-element walk).
  refit(shownPods(), now.getTime());
  // Once a minute: a query of the few marked blocks, not of every block.
  if (now.getSeconds() === 30) fadeRestarts(now.getTime());
  if (now.getSeconds() % FOLDED_EVERY_S === 0) refreshFolded();
  if (SORT === "usage" && now.getSeconds() === 0) sortNodes();
  else if (compactDue(now.getTime())) compact();
}

// A page with a bad filter has no wall to keep.
if (root && wall && !root.hasAttribute("data-error")) {
  listen();
  openWarningLinks();
  closeWhenParked();
  window.addEventListener("resize", function () {
    resized();
    recount();
    schedule();
  });
  arrange();
  recount();
  schedule();
  tick();
  setInterval(tick, 1000);
  pollSync();
  readRecent();
  remarkRecent();
  startScrubber();
  // A wall of the past (?at=) stays paused until "live".
  if (rewound()) pause();
  else connect();
}
