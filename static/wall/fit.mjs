// podwall: the size of the pods. The server starts a page at a size chosen by its pod
// count (data-density-steps); the page follows the count as it changes, and a kiosk wall
// shrinks its pods step by step until the whole cluster fits the screen, and grows them
// back one step when there is clearly room. The smallest kiosk size is the board.

import {
  COMPACT, DENSITIES, DENSITY_UP_TO, FIT_CHANGE_MIN, FIT_CHANGE_SHARE, FIT_MIN_MS, KIOSK,
  REFIT_MS, ROOM_SHARE, SERVER_DENSITIES, TOO_BIG_SHARE,
} from "./constants.mjs";
import { follow, invalidate } from "./board.mjs";

const html = document.documentElement;
const root = document.getElementById("wall-root");

// When the wall was last fitted, and at how many pods.
let lastFit = 0;
let lastFitPods = -1;
// The kiosk size that last proved too big, and at how many pods (see fit).
let tooBig = { level: -1, pods: 0 };

// The size the server would start a wall of `pods` pods at (compact=1: the last).
function baseDensity(pods) {
  const last = SERVER_DENSITIES.length - 1;
  if (COMPACT) return last;
  const i = DENSITY_UP_TO.findIndex(function (upTo) { return pods <= upTo; });
  return i < 0 ? last : i;
}

function setDensity(level) {
  if (html.dataset.density !== DENSITIES[level]) html.dataset.density = DENSITIES[level];
  follow();
}

// The wall's height in viewport pixels (a kiosk page may be zoomed, see wall.css). The
// root's own height: the document's is clipped to the screen in kiosk mode.
function height() {
  return root.getBoundingClientRect().height;
}

// Starts from the current size, so a wall that already fits costs one layout read, not a
// relayout per size.
function fit(pods) {
  const base = baseDensity(pods);
  if (!KIOSK) {
    setDensity(base);
    return;
  }
  let level = Math.max(base, DENSITIES.indexOf(html.dataset.density));
  setDensity(level);
  // Trying a bigger size relayouts the whole wall twice when it does not fit, so a size
  // that did not fit is not tried again until the wall has clearly fewer pods.
  const retry = !(tooBig.level === level - 1 && pods > tooBig.pods * TOO_BIG_SHARE);
  if (level > base && retry && height() < window.innerHeight * ROOM_SHARE) {
    level -= 1;
    setDensity(level);
    if (height() > window.innerHeight) tooBig = { level: level, pods: pods };
  }
  // Shrinking because the wall overflowed: the size it left is too big at this count, so
  // the next fit does not try it again (each try restyles and relayouts the whole wall).
  while (level < DENSITIES.length - 1 && height() > window.innerHeight) {
    tooBig = { level: level, pods: pods };
    level += 1;
    setDensity(level);
  }
}

/** After a recount: fits the wall when it grew or shrank noticeably (fitting reads the
 * layout), at most every FIT_MIN_MS. */
export function fitChanged(pods, now) {
  if (now - lastFit > FIT_MIN_MS && Math.abs(pods - lastFitPods) > Math.max(FIT_CHANGE_MIN, pods * FIT_CHANGE_SHARE)) {
    lastFit = now;
    lastFitPods = pods;
    fit(pods);
  }
}

/** Every second: a kiosk wall fits itself again every REFIT_MS. */
export function refit(pods, now) {
  if (KIOSK && now - lastFit > REFIT_MS) {
    lastFit = now;
    fit(pods);
  }
}

/** The wall was replaced: the next recount fits it. */
export function forgetFit() {
  lastFit = 0;
  lastFitPods = -1;
}

/** The screen changed: a smaller one may need smaller pods, a bigger one may allow larger. */
export function resized() {
  if (KIOSK) setDensity(0);
  invalidate();
  tooBig = { level: -1, pods: 0 };
  forgetFit();
}
