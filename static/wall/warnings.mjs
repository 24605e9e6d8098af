// podwall: the warnings lane. The server renders every item (templates/warning.html, its
// message escaped) and sends it as a fragment whose parent is "warnings"; this module
// places items newest first, keeps at most SHOWN, ticks their ages with the clock, says
// quietly how the events watch is, and opens an item's link like a pod's or node's.

import { ageText } from "./format.mjs";
import { fromHtml } from "./fragments.mjs";

/** The most items the lane keeps (the server renders as many on a reset). */
const SHOWN = 50;

const root = document.getElementById("wall-root");
const lane = document.getElementById("warnings");
const list = document.getElementById("warnings-list");
const note = document.getElementById("warnings-note");

// The lane's line per events state (the server's `render::events_note`).
const NOTES = {
  ok: "",
  starting: "loading events…",
  reconnecting: "events reconnecting…",
  forbidden: "events not permitted",
  unavailable: "events not served by this API server",
};

/** The wall shows a past moment: the lane stops following the present (its items and
 * their ages come with the page of that moment, `showPastLane`). */
export function showPast() {
  if (lane) lane.dataset.past = "";
}

/** The lane of a past moment, from the server's page of it (`doc`): its items
 * (server-rendered, escaped, their ages as they were then) and its note. */
export function showPastLane(doc) {
  const items = doc.getElementById("warnings-list");
  const theirs = doc.getElementById("warnings");
  if (!list || !lane || !items || !theirs) return;
  list.innerHTML = items.innerHTML;
  lane.dataset.past = "";
  showEvents({ events: theirs.dataset.events || "ok" });
}

/** Whether a fragment event is the lane's. */
export function isWarning(d) {
  return d.parent === "warnings" || (typeof d.id === "string" && d.id.startsWith("warning/"));
}

function showAge(item, now) {
  const age = item.querySelector(".warning-age");
  const seen = Date.parse(item.dataset.lastSeen);
  if (age && !isNaN(seen)) age.textContent = ageText(now - seen);
}

/** Places an item: newest first (RFC 3339 times in UTC compare as text). */
export function upsertWarning(d) {
  if (!list) return;
  const el = d.el || fromHtml(d.html);
  if (!el) return;
  const old = document.getElementById(d.id);
  if (old) old.remove();
  const seen = el.dataset.lastSeen || "";
  let before = null;
  for (const item of list.children) {
    if ((item.dataset.lastSeen || "") <= seen) {
      before = item;
      break;
    }
  }
  list.insertBefore(el, before);
  showAge(el, Date.now());
  while (list.children.length > SHOWN) list.lastElementChild.remove();
}

/** Removes an item. */
export function removeWarning(d) {
  const old = document.getElementById(d.id);
  if (old) old.remove();
}

/** How the events watch is: one quiet line on the lane. */
export function showEvents(d) {
  if (!lane || !d || typeof d.events !== "string") return;
  lane.dataset.events = d.events;
  if (note) note.textContent = NOTES[d.events] ?? "";
}

/** A reset's items (server-rendered, escaped) and events state. */
export function replaceWarnings(markup, events) {
  if (!list || typeof markup !== "string") return;
  list.innerHTML = markup;
  if (lane) delete lane.dataset.past;
  tickWarnings(Date.now());
  showEvents({ events });
}

/** Every second, with the clock: the items' ages. */
export function tickWarnings(now) {
  // A past moment's ages stay as they were then.
  if (!list || (lane && (lane.classList.contains("hidden") || "past" in lane.dataset))) return;
  for (const item of list.children) showAge(item, now);
}

/** A click on a pod's or node's warning opens its link when the server has templates. */
export function openWarningLinks() {
  if (!list) return;
  list.addEventListener("click", function (e) {
    const item = e.target.closest(".warning");
    if (!item) return;
    const name = encodeURIComponent(item.dataset.name || "");
    if (item.dataset.kind === "Pod" && root.hasAttribute("data-pod-links")) {
      window.open("link/pod/" + encodeURIComponent(item.dataset.namespace || "") + "/" + name, "_blank", "noopener");
    } else if (item.dataset.kind === "Node" && root.hasAttribute("data-node-links")) {
      window.open("link/node/" + name, "_blank", "noopener");
    }
  });
}
