// podwall: where boxes and blocks go. Node boxes in the wall's order (sort=name|role|
// usage, as the server sorts them), pod blocks in their box or in their group there
// (group=namespace|owner).

import { GROUP, SORT } from "./constants.mjs";
import { compact } from "./ghosts.mjs";
import { invalidate } from "./board.mjs";

const wall = document.getElementById("wall");

// Node names sort like people read them: worker-2 before worker-10 (as the server does).
function naturalKey(name) {
  return name.replace(/\d+/g, function (d) { return String(d.length).padStart(3, "0") + d; });
}

// Sort keys by header: a node's update replaces its header (its role may change).
const nodeKeys = new WeakMap();

function nodeKey(box) {
  const head = box.querySelector(".node-head");
  let key = head && nodeKeys.get(head);
  if (key !== undefined && key !== null) return key;
  key = naturalKey(box.dataset.node || "");
  if (SORT === "role") key = (head && head.dataset.role ? head.dataset.role : "~~") + "\u0000" + key;
  if (head) nodeKeys.set(head, key);
  return key;
}

// Requests over allocatable, unclamped (a <meter> stops at its max); as the server sorts.
function usage(box) {
  const head = box.querySelector(".node-head");
  if (!head || !head.dataset.cpuAlloc) return -1;
  let cpu = 0;
  let mem = 0;
  for (const p of box.querySelectorAll("[data-pod]")) {
    cpu += Number(p.dataset.cpu) || 0;
    mem += Number(p.dataset.mem) || 0;
  }
  const cpuAlloc = Number(head.dataset.cpuAlloc);
  const memAlloc = Number(head.dataset.memAlloc);
  return Math.max(cpuAlloc > 0 ? cpu / cpuAlloc : 0, memAlloc > 0 ? mem / memAlloc : 0);
}

/** Puts a new box in its place among the wall's boxes. */
export function insertSorted(box) {
  const container = wall.querySelector(".nodes");
  const key = nodeKey(box);
  for (const other of container.children) {
    if (other !== box && nodeKey(other) > key) {
      invalidate();
      container.insertBefore(box, other);
      return;
    }
  }
  container.appendChild(box);
}

/** Puts every box in order again (closing the ghosts' gaps). */
export function sortNodes() {
  const container = wall.querySelector(".nodes");
  if (!container) return;
  compact();
  const boxes = Array.from(container.children);
  if (SORT === "usage") {
    const u = new Map(boxes.map(function (b) { return [b, usage(b)]; }));
    boxes.sort(function (a, b) { return u.get(b) - u.get(a) || (nodeKey(a) < nodeKey(b) ? -1 : 1); });
  } else {
    boxes.sort(function (a, b) { return nodeKey(a) < nodeKey(b) ? -1 : 1; });
  }
  container.append.apply(container, boxes);
  invalidate();
}

function groupKey(pod) {
  if (GROUP === "namespace") return pod.dataset.pod.split("/")[0];
  if (GROUP === "owner") return pod.dataset.owner || "(no owner)";
  return "";
}

/** Where a pod block lives inside a box: its `.pods`, or its group there (made if new). */
export function podContainer(box, pod) {
  const pods = box.querySelector(".pods");
  if (!GROUP) return pods;
  const key = groupKey(pod);
  for (const g of pods.children) {
    if (g.dataset.groupKey === key) return g;
  }
  const g = document.createElement("div");
  g.className = "group";
  g.dataset.groupKey = key;
  const label = document.createElement("span");
  label.className = "group-name";
  label.textContent = key;
  g.appendChild(label);
  let before = null;
  for (const other of pods.children) {
    if (other.dataset.groupKey > key) { before = other; break; }
  }
  pods.insertBefore(g, before);
  return g;
}

/** Removes a group left without pods. */
export function dropEmptyGroup(container) {
  if (container && container.classList.contains("group") && !container.querySelector("[data-pod]")) {
    container.remove();
  }
}

/** Puts every block of the wall into its group (the server sends no group captions). */
export function groupAll() {
  if (!GROUP) return;
  for (const pods of wall.querySelectorAll(".pods")) {
    const box = pods.closest("section");
    for (const pod of Array.from(pods.querySelectorAll(":scope > [data-pod]"))) {
      podContainer(box, pod).appendChild(pod);
    }
  }
}
