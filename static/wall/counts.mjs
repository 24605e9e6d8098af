// podwall: the numbers on the wall. Each node header's pod count, request bars and texts,
// kept for the boxes that changed; and the page header's tallies (nodes, pods, pods per
// status), summed from per-box tallies so a recount costs O(boxes), not O(pods).

import { FALLBACK_CLASS } from "./constants.mjs";
import { bytesText, cpuText } from "./format.mjs";

const wall = document.getElementById("wall");

// Boxes whose pods or header changed since the last frame.
const dirty = new Set();
// Pods per status of each box, recomputed only when the box changed.
const tallies = new WeakMap();
// What a pod block says, read once per block: blocks are replaced, never changed, and
// reading dataset on every pod of every changed box was a third of the script's time.
const podInfos = new WeakMap();
// The numbers each header shows, so a box whose sums did not change gets no DOM writes.
const shown = new WeakMap();
// Pods on the wall at the last recount.
let pods = 0;

/** A box whose pods or header changed: its header and tally are updated this frame. */
export function touch(box) {
  dirty.add(box);
}

/** Forgets the boxes touched so far (the wall was replaced). */
export function untouchAll() {
  dirty.clear();
}

/** Forgets a box's tally (it went). */
export function forget(box) {
  tallies.delete(box);
}

/** The pod count of the last recount. */
export function shownPods() {
  return pods;
}

/** What a pod block says: { status, cls, cpu, mem }. */
export function podInfo(p) {
  let info = podInfos.get(p);
  if (!info) {
    const m = /\bs-(\w+)/.exec(p.className);
    info = {
      status: p.getAttribute("data-status"),
      cls: m ? m[1] : FALLBACK_CLASS,
      cpu: Number(p.getAttribute("data-cpu")) || 0,
      mem: Number(p.getAttribute("data-mem")) || 0,
    };
    podInfos.set(p, info);
  }
  return info;
}

// Counts a box's pods per status (kept in `tallies`) and sums their requests, in one pass.
function tallyOf(box, list) {
  const tally = new Map();
  let cpu = 0;
  let mem = 0;
  for (const p of list) {
    const info = podInfo(p);
    let entry = tally.get(info.status);
    if (!entry) {
      entry = { n: 0, cls: info.cls };
      tally.set(info.status, entry);
    }
    entry.n += 1;
    cpu += info.cpu;
    mem += info.mem;
  }
  tallies.set(box, tally);
  return { tally: tally, cpu: cpu, mem: mem };
}

function updateBox(box) {
  if (!box.isConnected || !box.id) return;
  const list = box.querySelectorAll("[data-pod]");
  const { cpu, mem } = tallyOf(box, list);
  const head = box.firstElementChild;
  if (!head || !head.classList.contains("node-head")) return;
  const key = list.length + " " + cpu + " " + mem;
  if (shown.get(head) === key) return;
  shown.set(head, key);
  const n = head.querySelector(".node-count .n");
  if (n) n.textContent = list.length;
  const cpuAttr = head.getAttribute("data-cpu-alloc");
  if (!cpuAttr) return;
  const cpuAlloc = Number(cpuAttr);
  const memAlloc = Number(head.getAttribute("data-mem-alloc"));
  const capacity = Number(head.getAttribute("data-capacity"));
  const cpuMeter = head.querySelector("meter.cpu");
  const memMeter = head.querySelector("meter.mem");
  if (cpuMeter) cpuMeter.value = cpu;
  if (memMeter) memMeter.value = mem;
  const cpuEl = head.querySelector(".cpu-text");
  const memEl = head.querySelector(".mem-text");
  cpuEl.textContent = cpuText(cpu) + "/" + cpuText(cpuAlloc);
  memEl.textContent = bytesText(mem) + "/" + bytesText(memAlloc);
  cpuEl.classList.toggle("over", cpu > cpuAlloc);
  memEl.classList.toggle("over", mem > memAlloc);
  head.classList.toggle("full", list.length >= capacity && capacity > 0);
}

/** Updates the header of every touched box, then calls `then(box)` for each. */
export function updateTouched(then) {
  for (const box of dirty) {
    updateBox(box);
    then(box);
  }
  dirty.clear();
}

/** Recounts the page header from the boxes' tallies; returns the pods counted. */
export function updateCounts() {
  const by = new Map();
  let total = 0;
  // The boxes are the children of .nodes: walking them is O(boxes), where a selector
  // query over the wall would test every pod.
  const container = wall.querySelector(".nodes");
  const boxes = container ? Array.from(container.children) : [];
  const unscheduled = document.getElementById("unscheduled");
  if (unscheduled) boxes.push(unscheduled);
  let nodes = 0;
  for (const box of boxes) {
    if (box.dataset.node !== undefined) {
      const head = box.firstElementChild;
      if (head && head.classList.contains("node-head") && !head.classList.contains("unavailable")) nodes += 1;
    }
    const tally = tallies.get(box) || tallyOf(box, box.querySelectorAll("[data-pod]")).tally;
    for (const [status, e] of tally) {
      const entry = by.get(status);
      if (entry) entry.n += e.n;
      else by.set(status, { n: e.n, cls: e.cls });
      total += e.n;
    }
  }
  document.getElementById("count-nodes").textContent = nodes;
  document.getElementById("count-pods").textContent = total;
  const counts = document.getElementById("counts");
  for (const old of counts.querySelectorAll("[data-count-status]")) old.remove();
  const sorted = Array.from(by.entries()).sort(function (a, b) {
    return b[1].n - a[1].n || (a[0] < b[0] ? -1 : 1);
  });
  for (const [status, e] of sorted) {
    const span = document.createElement("span");
    span.className = "count s-" + e.cls;
    span.dataset.countStatus = status;
    const sw = document.createElement("i");
    sw.className = "swatch";
    sw.setAttribute("aria-hidden", "true");
    const b = document.createElement("b");
    b.textContent = e.n;
    span.append(sw, b, " " + status);
    counts.appendChild(span);
  }
  const sync = document.getElementById("sync-count");
  if (sync) sync.textContent = total + " pods, " +
    boxes.filter(function (b) { return b.dataset.node !== undefined; }).length + " nodes loaded so far";
  pods = total;
  return total;
}
