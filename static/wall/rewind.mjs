// podwall: the scrubber. It shows the wall at a past moment of the server's history
// (?at=), paused, and plays it forward at 1×, 10× or 60×; "live" goes back to the
// present without a reload. Every moment shown is the server's: the page of that moment
// is fetched (the same filters) and its wall, counts, banner, warnings and lane of recent
// changes are put in place of the present ones; the live stream is closed meanwhile and
// opened again from a fresh reset on the way back.

import { SCRUB_TICK_MS } from "./constants.mjs";
import { replaceWall } from "./placement.mjs";
import { recount, schedule } from "./scheduling.mjs";
import { connect, pause } from "./connection.mjs";
import { readRecent, remarkRecent } from "./recent.mjs";
import { clockText } from "./format.mjs";
import { showLocalTimes } from "./clock.mjs";
import { showPast, showPastLane } from "./warnings.mjs";

const root = document.getElementById("wall-root");
const range = document.getElementById("scrub-range");
const out = document.getElementById("scrub-time");
const play = document.getElementById("scrub-play");
const speed = document.getElementById("scrub-speed");
const liveButton = document.getElementById("scrub-live");
const banner = document.getElementById("rewind-banner");
const scrubber = document.getElementById("scrubber");

// The moment shown (ms), null while live.
let at = root && root.dataset.at ? Date.parse(root.dataset.at) : null;
let playing = false;
// A moment picked on the range and not yet shown (the tick leaves the range alone).
let chosen = null;
// A fetch in flight, and the moment wanted after it.
let loading = false;
let wanted = null;
// The server's clock minus ours: the window's end is the server's now.
const skew = root && root.dataset.historyUntil ? Number(root.dataset.historyUntil) - Date.now() : 0;

/** The wall shows a past moment (live updates are paused). */
export function rewound() {
  return at !== null;
}

function query(moment) {
  const p = new URLSearchParams(location.search);
  p.delete("at");
  p.delete("lastEventId");
  if (moment !== null) p.set("at", new Date(moment).toISOString());
  return p.toString();
}

function label(moment) {
  if (!out) return;
  out.textContent = moment === null ? "live" : clockText(new Date(moment));
}

function swap(doc, id) {
  const now = document.getElementById(id);
  const then = doc.getElementById(id);
  if (now && then) now.replaceWith(document.importNode(then, true));
  else if (then && id === "recent") document.getElementById("warnings").after(document.importNode(then, true));
  else if (now && id === "recent") now.remove();
}

// Shows the server's page of `moment` in place of this one's.
function show(moment) {
  wanted = moment;
  if (loading) return;
  loading = true;
  const q = query(moment);
  fetch("./?" + q, { cache: "no-store", credentials: "same-origin" })
    .then(function (r) {
      return r.text().then(function (t) { return { ok: r.ok, text: t }; });
    })
    .then(function (r) {
      const doc = new DOMParser().parseFromString(r.text, "text/html");
      const theirs = doc.getElementById("wall-root");
      if (!r.ok || !theirs || theirs.hasAttribute("data-error")) {
        const err = doc.getElementById("filter-error");
        if (banner) banner.querySelector(".rewind-ago").textContent = err ? err.textContent : "that moment cannot be shown";
        return;
      }
      if (at === null) return; // back to live meanwhile
      replaceWall(doc.getElementById("wall").innerHTML);
      swap(doc, "counts");
      swap(doc, "rewind-banner");
      showLocalTimes(document.getElementById("rewind-banner"));
      swap(doc, "recent");
      showPastLane(doc);
      root.dataset.seq = theirs.dataset.seq;
      root.dataset.at = theirs.dataset.at || "";
      history.replaceState(null, "", "?" + q);
      readRecent();
      remarkRecent();
      recount();
      schedule();
    })
    .catch(function () {})
    .finally(function () {
      loading = false;
      if (wanted !== null && wanted !== moment && at !== null) show(wanted);
    });
}

function goTo(moment) {
  const end = Date.now() + skew;
  if (moment >= end - 1000) {
    if (at !== null) live();
    return;
  }
  if (at === null) {
    pause();
    showPast();
    if (scrubber) scrubber.classList.remove("at-live");
    if (liveButton) liveButton.disabled = false;
  }
  at = moment;
  if (range) range.value = String(moment);
  label(moment);
  show(moment);
}

/** Back to the present: the stream again, from a fresh reset. */
export function live() {
  at = null;
  setPlaying(false);
  wanted = null;
  delete root.dataset.at;
  history.replaceState(null, "", "?" + query(null));
  const b = document.getElementById("rewind-banner");
  if (b) b.classList.add("hidden");
  const lane = document.getElementById("recent");
  if (lane && !new URLSearchParams(location.search).get("recent")) lane.remove();
  if (scrubber) scrubber.classList.add("at-live");
  if (liveButton) liveButton.disabled = true;
  // The range stands at the present at once, not at the next tick.
  if (range) range.value = range.max = String(Date.now() + skew);
  label(null);
  root.dataset.seq = "";
  connect();
}

function setPlaying(on) {
  playing = on;
  if (!play) return;
  play.setAttribute("aria-pressed", on ? "true" : "false");
  play.textContent = on ? "pause" : "play";
}

/** Every SCRUB_TICK_MS: the window's end follows the present; a playing wall moves on. */
export function tickScrubber() {
  if (!range) return;
  const end = Date.now() + skew;
  range.max = String(end);
  if (at === null) {
    if (chosen === null) range.value = String(end);
    return;
  }
  if (playing) goTo(at + SCRUB_TICK_MS * Number(speed ? speed.value : 1));
}

/** Wires the scrubber's controls: the range (arrows, Page Up/Down, Home/End), play/pause,
 * speed, live. */
export function startScrubber() {
  if (!range) return;
  showLocalTimes(banner);
  label(at);
  let debounce = 0;
  range.addEventListener("input", function () {
    // The moment chosen now: the tick may move a live range's value meanwhile.
    const moment = Number(range.value);
    chosen = moment;
    label(moment);
    clearTimeout(debounce);
    debounce = setTimeout(function () {
      chosen = null;
      goTo(moment);
    }, 150);
  });
  if (play) play.addEventListener("click", function () {
    if (at === null) goTo(Number(range.min));
    setPlaying(!playing);
  });
  if (liveButton) liveButton.addEventListener("click", live);
  const back = document.getElementById("back-to-live");
  if (back) back.addEventListener("click", function (e) {
    e.preventDefault();
    live();
  });
  setInterval(tickScrubber, SCRUB_TICK_MS);
}
