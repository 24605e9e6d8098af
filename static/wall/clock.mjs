// podwall: the clock in the top bar, and how long ago the last change arrived. Used by
// the wall and by the multi-cluster overview (which shows one clock for all its walls).

import { ageText, clockText } from "./format.mjs";

const clock = document.getElementById("clock");
const age = document.getElementById("age");

/** Shows the time `now` (a Date) on the clock. */
export function showTime(now) {
  if (!clock) return;
  clock.textContent = clockText(now);
  clock.dateTime = now.toISOString();
}

/** Shows the server-rendered moments of `scope` (`time.clock-local`, in UTC: the server
 * cannot know the screen's time zone) in the browser's, as the clock. */
export function showLocalTimes(scope) {
  if (!scope) return;
  scope.querySelectorAll("time.clock-local").forEach(function (t) {
    const ms = Date.parse(t.dateTime);
    if (!isNaN(ms)) t.textContent = clockText(new Date(ms));
  });
}

/** Shows how long before `now` (a Date) the last change arrived, and whether the page's
 * data is stale. */
export function showAge(now, lastUpdate, stale) {
  if (!age) return;
  age.textContent = (stale ? "stale, last update " : "updated ") + ageText(now - lastUpdate) + " ago";
}
