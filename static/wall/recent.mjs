// podwall: the marks of ?recent=. The server lists what changed in the span (the #recent
// lane, server-rendered); this marks those pods and nodes on the wall (classes
// recent-<mark>, outlined by the stylesheet) and adds their status transitions to the
// details. Live fragments replace marked blocks, so the marks are put back every second.

import { addDetailRows } from "./details.mjs";
import { showLocalTimes } from "./clock.mjs";

const wall = document.getElementById("wall");

// "ns/name" or node name → { marks, transitions }.
let pods = new Map();
let nodes = new Map();

/** Reads the lane (again: the scrubber swaps it). */
export function readRecent() {
  pods = new Map();
  nodes = new Map();
  const lane = document.getElementById("recent");
  if (!lane) return;
  // The transitions' times in the browser's time zone, in the lane and in the details
  // (data-transitions stays in UTC, for tools).
  showLocalTimes(lane);
  for (const li of lane.querySelectorAll("li")) {
    const shown = li.querySelector(".transitions");
    const transitions = shown ? shown.textContent : li.dataset.transitions || "";
    const entry = { marks: li.dataset.marks || "", transitions: transitions };
    if (li.dataset.recentPod !== undefined) pods.set(li.dataset.recentPod, entry);
    else if (li.dataset.recentNode !== undefined) nodes.set(li.dataset.recentNode, entry);
  }
}

function mark(el, entry) {
  if (el.classList.contains("recent")) return;
  el.classList.add("recent");
  for (const m of entry.marks.split(" ")) if (m) el.classList.add("recent-" + m);
}

/** Marks the listed pods and nodes that are on the wall. */
export function remarkRecent() {
  if (!wall || (!pods.size && !nodes.size)) return;
  for (const [key, entry] of pods) {
    const el = document.getElementById("pod/" + key);
    if (el) mark(el, entry);
  }
  for (const [name, entry] of nodes) {
    const box = document.getElementById("node/" + name);
    if (box) mark(box, entry);
  }
}

addDetailRows(function (pod) {
  const entry = pods.get(pod.dataset.pod);
  return entry && entry.transitions ? [["changes", entry.transitions, "recent-changes"]] : [];
});
