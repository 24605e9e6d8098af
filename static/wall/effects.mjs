// podwall: blocks that appear or change pulse once; deleted blocks fade out. Both are
// kept oldest first with the time they end, and one sweep per frame ends them: a timer or
// listener per block would cost more at hundreds of changes a second.

import { FADE_MS, PULSE_MS } from "./constants.mjs";
import { dropEmptyGroup } from "./order.mjs";
import { redraw } from "./board.mjs";

let pulses = [];
let fades = [];

/** A block that appeared or changed pulses once. */
export function pulse(el) {
  el.classList.add("pulse");
  pulses.push({ el: el, until: Date.now() + PULSE_MS });
}

/** Keeps a deleted block visible, unmarked (tools see it gone at once), while it fades out. */
export function fadeOut(el) {
  el.removeAttribute("id");
  el.removeAttribute("data-pod");
  el.removeAttribute("tabindex");
  el.setAttribute("aria-hidden", "true");
  el.classList.add("gone");
  fades.push({ el: el, until: Date.now() + FADE_MS });
}

// Ends the entries of a time-ordered list that are due; returns the rest.
function sweep(list, now, end) {
  let i = 0;
  while (i < list.length && list[i].until <= now) {
    end(list[i].el);
    i += 1;
  }
  return i ? list.slice(i) : list;
}

// A pulse or fade ending redraws its cell on the board, without tallying the box again.
function endPulse(el) {
  el.classList.remove("pulse");
  redraw(el.closest("section"));
}

function endFade(el) {
  const container = el.parentNode;
  redraw(el.closest("section"));
  el.remove();
  dropEmptyGroup(container);
}

/** Ends the pulses and fades due at `now`. */
export function sweepEffects(now) {
  pulses = sweep(pulses, now, endPulse);
  fades = sweep(fades, now, endFade);
}

/** When the next pulse or fade ends (Infinity: none left). */
export function nextEffectEnd() {
  return Math.min(pulses.length ? pulses[0].until : Infinity, fades.length ? fades[0].until : Infinity);
}
