// podwall: live usage beside requests, from /api/usage (metrics.k8s.io, polled by the
// server): two rows (cpu used, mem used) in each node header, a row in a pod's details,
// and a quiet note in the top bar while usage is unknown (never a banner).

import { USAGE_HIDDEN_AT } from "./constants.mjs";
import { bytesText, cpuText } from "./format.mjs";
import { el } from "./el.mjs";
import { addDetailRows } from "./details.mjs";

const html = document.documentElement;
const root = document.getElementById("wall-root");
const wall = document.getElementById("wall");

// How often the server polls, from data-usage-interval-ms (0: usage is off).
let interval = 0;
// The last /api/usage answer; null until the first one.
let usage = null;
// Bumped per answer: a header whose rows carry this version needs no DOM writes.
let version = 0;
let drawQueued = false;
// Headers put in since the last draw; null means every header (a new answer).
let fresh = null;

function ok() {
  return usage !== null && usage.status === "ok";
}

function showNote() {
  const top = root.querySelector("header.top");
  if (!top) return;
  let note = document.getElementById("usage-note");
  if (ok() || !usage || usage.status === "waiting") {
    if (note) note.remove();
    return;
  }
  if (!note) {
    note = el("span", "usage-note");
    note.id = "usage-note";
    note.setAttribute("role", "status");
    top.append(note);
  }
  note.dataset.usageStatus = usage.status;
  note.textContent = "usage " + usage.status;
  note.title = usage.message || "";
}

// Two grid rows (cpu used, mem used) appended to a node header's .usage grid.
function drawNode(head) {
  const grid = head.querySelector(".usage");
  if (!grid) return;
  const box = head.closest("[data-node]");
  const sample = ok() && box ? usage.nodes[box.dataset.node] : null;
  let rows = grid.querySelector(".live-usage");
  if (rows && rows.dataset.v === String(version)) return;
  if (!sample) {
    if (rows) rows.remove();
    return;
  }
  if (!rows) {
    rows = el("span", "live-usage");
    for (const res of ["cpu", "mem"]) {
      const m = el("meter", res + " used");
      m.min = 0;
      m.setAttribute("aria-label", (res === "cpu" ? "CPU" : "memory") + " used of allocatable");
      rows.append(el("span", "res", res + " used"), m, el("span", "res-text " + res + "-used-text"));
    }
    grid.append(rows);
  }
  const [cpuMeter, memMeter] = rows.querySelectorAll("meter");
  const cpuAlloc = Number(head.dataset.cpuAlloc) || 0;
  const memAlloc = Number(head.dataset.memAlloc) || 0;
  cpuMeter.max = Math.max(cpuAlloc, 1);
  cpuMeter.value = sample.cpuMillis;
  memMeter.max = Math.max(memAlloc, 1);
  memMeter.value = sample.memoryBytes;
  rows.querySelector(".cpu-used-text").textContent = cpuText(sample.cpuMillis) + "/" + cpuText(cpuAlloc);
  rows.querySelector(".mem-used-text").textContent = bytesText(sample.memoryBytes) + "/" + bytesText(memAlloc);
  rows.dataset.v = String(version);
}

// At the tiny and micro sizes wall.css hides a header's usage rows: drawing them into a
// thousand hidden headers cost 40–50 ms per answer at 1,000 nodes, a long task. They are
// drawn when the wall grows back (the page sets the density on <html>).
function usageHidden() {
  return USAGE_HIDDEN_AT.includes(html.dataset.density);
}

function draw() {
  drawQueued = false;
  if (usageHidden()) {
    fresh = null;
    showNote();
    return;
  }
  const heads = fresh || wall.querySelectorAll("[data-node] > .node-head");
  fresh = new Set();
  for (const head of heads) if (head.isConnected) drawNode(head);
  showNote();
}

function schedule() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(draw);
}

// Only headers that are new need drawing: a big wall changes hundreds of pods a second,
// and walking its thousand headers each frame cost more than the wall's own script.
function added(records) {
  if (!usage) return;
  if (usageHidden()) {
    fresh = null;
    return;
  }
  for (const r of records) {
    for (const n of r.addedNodes) {
      if (n.nodeType !== 1 || !fresh) continue;
      if (n.classList.contains("node-head")) fresh.add(n);
      else if (n.matches("[data-node]")) {
        const head = n.querySelector(".node-head");
        if (head) fresh.add(head);
      } else if (n.querySelector && n.querySelector(".node-head")) {
        fresh = null;
      }
    }
  }
  if (!fresh || fresh.size) schedule();
}

function poll() {
  fetch("api/usage", { cache: "no-store", credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (body) {
      if (body) {
        usage = body;
        version += 1;
        fresh = null;
        schedule();
      }
    })
    .catch(function () { /* the connection indicator already says when podwall is gone */ })
    .finally(function () { setTimeout(poll, usage && usage.status === "waiting" ? 1000 : interval); });
}

// A pod's row in its details.
function detailRows(pod) {
  const s = ok() ? usage.pods[pod.dataset.pod] : null;
  const text = s
    ? "cpu " + cpuText(s.cpuMillis) + ", memory " + bytesText(s.memoryBytes)
    : usage && !ok() && usage.status !== "waiting"
      ? "unknown (" + usage.status + ")"
      : "none reported";
  return [["usage", text, "overlay-usage"]];
}

/** Shows live usage when the server polls it (data-usage-interval-ms on #wall-root). */
export function showUsage() {
  interval = Number(root.dataset.usageIntervalMs) || 0;
  if (interval <= 0) return;
  addDetailRows(detailRows);
  // The wall replaces node headers on every node change: draw the usage rows again.
  new MutationObserver(added).observe(wall, { childList: true, subtree: true });
  new MutationObserver(function () {
    if (!usageHidden() && fresh === null) schedule();
  }).observe(html, { attributes: true, attributeFilter: ["data-density"] });
  poll();
}
