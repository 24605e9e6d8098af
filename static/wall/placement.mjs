// podwall: applying the stream's fragments to the wall. Pod blocks are replaced or moved
// into their node box (or the unscheduled box), node headers replaced, boxes added in
// order or left as ghosts; each box touched is recounted at the end of the frame.

import { fromHtml } from "./fragments.mjs";
import { groupAll, insertSorted, podContainer, dropEmptyGroup, sortNodes } from "./order.mjs";
import { dropBox } from "./ghosts.mjs";
import { fadeOut, pulse } from "./effects.mjs";
import { touch, untouchAll } from "./counts.mjs";
import { invalidate } from "./board.mjs";
import { focusPod, isRover, setRover } from "./details.mjs";
import { isWarning, removeWarning, upsertWarning } from "./warnings.mjs";

const wall = document.getElementById("wall");
const placeholder = document.getElementById("node-placeholder");

/** Orders and groups the whole wall and touches every box (after a render or reset). */
export function arrange() {
  invalidate();
  groupAll();
  sortNodes();
  for (const box of wall.querySelectorAll("section")) touch(box);
}

/** Replaces the whole wall (a `reset`). */
export function replaceWall(markup) {
  wall.innerHTML = markup;
  untouchAll();
  arrange();
}

// A new box for node `id`, from the placeholder: a node's header goes in later, or stays
// "node details unavailable" for a node the wall has no details for.
function newBox(id) {
  const name = id.slice("node/".length);
  const box = placeholder.content.firstElementChild.cloneNode(true);
  box.id = id;
  box.dataset.node = name;
  box.setAttribute("aria-label", "node " + name);
  return box;
}

function nodeBox(id) {
  let box = document.getElementById(id);
  if (box) return box;
  // A pod on a node the wall has no details for: a placeholder box keeps it visible.
  box = newBox(id);
  box.querySelector(".node-name").textContent = box.dataset.node;
  insertSorted(box);
  return box;
}

function dropIfEmptyPlaceholder(box) {
  if (box && box.dataset.node !== undefined && box.querySelector(".node-head.unavailable") &&
      !box.querySelector("[data-pod]")) {
    dropBox(box);
  }
}

function upsertPod(d) {
  const el = d.el || fromHtml(d.html);
  const box = d.parent === "unscheduled" ? document.getElementById("unscheduled") : nodeBox(d.parent);
  const container = podContainer(box, el);
  const old = document.getElementById(d.id);
  touch(box);
  if (old && old.parentNode === container) {
    if (old.dataset.status !== el.dataset.status || old.dataset.restarts !== el.dataset.restarts) pulse(el);
    const focused = document.activeElement === old;
    const roving = isRover(old);
    old.replaceWith(el);
    if (roving) setRover(el);
    if (focused) focusPod(el);
    return;
  }
  pulse(el);
  const focused = old !== null && document.activeElement === old;
  const roving = old !== null && isRover(old);
  if (old) {
    const oldBox = old.closest("section");
    const oldContainer = old.parentNode;
    touch(oldBox);
    old.remove();
    dropEmptyGroup(oldContainer);
    dropIfEmptyPlaceholder(oldBox);
  }
  container.appendChild(el);
  if (roving) setRover(el);
  if (focused) focusPod(el);
}

function deletePod(d) {
  const old = document.getElementById(d.id);
  if (!old) return;
  const box = old.closest("section");
  touch(box);
  fadeOut(old);
  dropIfEmptyPlaceholder(box);
}

function upsertNode(d) {
  const head = d.el || fromHtml(d.html);
  const box = document.getElementById(d.id);
  if (box) {
    box.querySelector(".node-head").replaceWith(head);
    touch(box);
    return;
  }
  const fresh = newBox(d.id);
  fresh.querySelector(".node-head").replaceWith(head);
  insertSorted(fresh);
  touch(fresh);
}

function deleteNode(d) {
  const box = document.getElementById(d.id);
  if (!box) return;
  if (box.querySelector("[data-pod]")) {
    box.querySelector(".node-head").replaceWith(d.el || fromHtml(d.html));
    touch(box);
  } else {
    dropBox(box);
  }
}

/** Applies an `upsert` event's fragment. */
export function upsert(d) {
  if (isWarning(d)) upsertWarning(d);
  else if (d.id.startsWith("pod/")) upsertPod(d);
  else upsertNode(d);
}

/** Applies a `delete` event's fragment. */
export function remove(d) {
  if (isWarning(d)) removeWarning(d);
  else if (d.id.startsWith("pod/")) deletePod(d);
  else deleteNode(d);
}
