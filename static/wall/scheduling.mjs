// podwall: the frame. Events from the stream wait in a queue; each animation frame applies
// what fits its budget, then updates the touched boxes, the board and the header.
//
// Every frame that changes the wall costs the browser a pass over much of it (layout,
// layerizing and compositing walk every box), so a big wall takes its changes in fewer
// frames: after a frame that emptied the queue, the next waits BIG_WALL_GAP_MS above
// BIG_WALL pods (not on the board, where a frame costs what it changed). A frame applies
// changes for at most EVENTS_MS of script, so a burst never makes one long task: the rest
// waits for the next frame, in order, and data-seq names the last change applied. On the
// board a frame costs little beyond its script, so it takes fewer changes (BOARD_EVENTS_MS)
// and draws and recounts only until FRAME_MS; a DOM wall's frame costs its layout and
// paint whatever it applied, so it takes more.

import {
  BIG_WALL, BIG_WALL_GAP_MS, BOARD_EVENTS_MS, COUNTS_MAX_MS, COUNTS_MS, EVENTS_MS, FRAME_MS,
  PARSE_AHEAD,
} from "./constants.mjs";
import { parseAhead } from "./fragments.mjs";
import { nextEffectEnd, sweepEffects } from "./effects.mjs";
import { shownPods, updateCounts, updateTouched } from "./counts.mjs";
import { busy, draw, isOn, redraw } from "./board.mjs";
import { keepRover } from "./details.mjs";
import { fitChanged } from "./fit.mjs";

const root = document.getElementById("wall-root");

// Events waiting: { type, handler, data, id }.
let queue = [];
let flushQueued = false;
let lastFlush = 0;
// The last frame left events for the next.
let backlog = false;
// When the last change was applied.
let lastUpdate = Date.now();
// Timers that wake a quiet page for the last pulses and fades, and for the last recount.
let effectsWake = false;
let countsWake = false;
// The header counts: forced at the next frame (countsDue), or behind the wall's changes
// (countsStale) and redone at most every COUNTS_MS.
let countsDue = true;
let countsStale = false;
let lastCounts = 0;
// What to do when an event cannot be applied (the page no longer matches the stream).
let broken = function () {};

/** When the last change was applied (a Date.now() time). */
export function lastUpdated() {
  return lastUpdate;
}

/** Calls `f` when an event cannot be applied; it should start over from a fresh reset. */
export function onBroken(f) {
  broken = f;
}

/** Queues an event for the next frame: `handler(data)` applies it; `id` is its SSE id. */
export function enqueue(type, handler, data, id) {
  queue.push({ type: type, handler: handler, data: data, id: id });
  schedule();
}

/** Drops every waiting event. */
export function clearQueue() {
  queue = [];
}

/** Recounts the header at the next frame. */
export function recount() {
  countsDue = true;
}

/** Asks for a frame. */
export function schedule() {
  if (flushQueued) return;
  flushQueued = true;
  const wait = shownPods() > BIG_WALL && !backlog && !isOn() ? lastFlush + BIG_WALL_GAP_MS - Date.now() : 0;
  // Hidden tabs get no animation frames; a timer keeps the queue from growing there.
  if (document.hidden) setTimeout(flush, 250);
  else if (wait > 0) setTimeout(function () { requestAnimationFrame(flush); }, wait);
  else requestAnimationFrame(flush);
}

// Applies events within the frame's budget; returns how many, or -1 when one failed.
function apply(started, budget) {
  const batch = queue;
  let done = 0;
  let seq = "";
  while (done < batch.length) {
    if (done % PARSE_AHEAD === 0) parseAhead(batch, done, PARSE_AHEAD);
    const ev = batch[done];
    done += 1;
    try {
      ev.handler(ev.data);
    } catch (e) {
      return -1;
    }
    if (ev.id) seq = ev.id;
    if (performance.now() - started > budget) break;
  }
  if (seq) root.dataset.seq = seq;
  queue = done < batch.length ? batch.slice(done) : [];
  return done;
}

function flush() {
  flushQueued = false;
  lastFlush = Date.now();
  const started = performance.now();
  const board = isOn();
  const done = apply(started, board ? BOARD_EVENTS_MS : EVENTS_MS);
  if (done < 0) {
    broken();
    return;
  }
  backlog = queue.length > 0;
  if (done) lastUpdate = Date.now();
  const now = Date.now();
  sweepEffects(now);
  updateTouched(redraw);
  if (board) {
    draw(started + FRAME_MS);
    if (busy()) schedule();
  }
  keepRover();
  // When the stream goes quiet, one more frame must still end the last pulses and fades.
  const next = nextEffectEnd();
  if (next !== Infinity && !effectsWake) {
    effectsWake = true;
    setTimeout(function () { effectsWake = false; schedule(); }, next - now + 20);
  }
  // Whole-wall recounts are O(boxes): at most every COUNTS_MS and in a frame with time
  // left (at least every COUNTS_MAX_MS), unless forced (countsDue).
  if (done) countsStale = true;
  const roomLeft = performance.now() - started < FRAME_MS || now - lastCounts > COUNTS_MAX_MS;
  if (countsDue || (countsStale && roomLeft && now - lastCounts > COUNTS_MS)) {
    countsDue = false;
    countsStale = false;
    lastCounts = now;
    fitChanged(updateCounts(), now);
  } else if (countsStale && !countsWake) {
    // The stream may go quiet: one more flush must still count the last changes.
    countsWake = true;
    setTimeout(function () { countsWake = false; schedule(); }, lastCounts + COUNTS_MS - now + 20);
  }
  if (backlog) schedule();
}
