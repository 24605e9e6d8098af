// podwall: a pod's details on hover, focus or tap, and the keyboard's walk between pods.
//
// The wall is one tab stop (a roving tabindex): Tab enters at one pod, the arrow keys
// move between pods, Tab leaves; twenty thousand tab stops would trap a keyboard. Pods
// get their role, name and focusability when the keyboard or a pointer reaches them, not
// in the HTML: twenty thousand labels would be a third of a big wall's page.

import { ageText, bytesText, cpuText } from "./format.mjs";
import { el } from "./el.mjs";

const wall = document.getElementById("wall");
const detail = document.getElementById("detail");

// The wall's one tab stop.
let rover = null;
// Where the next detail shows, when its block is not rendered (the board draws it).
let anchor = null;
// More rows for the details (the overlay's): functions (pod) => [[term, text, class], …].
const extraRows = [];

/** Adds rows to every pod's details: `rows(pod)` returns [[term, text, class], …]. */
export function addDetailRows(rows) {
  extraRows.push(rows);
}

function focusable(pod) {
  if (!pod.hasAttribute("tabindex")) pod.tabIndex = -1;
  pod.setAttribute("role", "button");
  const restarts = pod.dataset.restarts || "0";
  pod.setAttribute("aria-label", pod.dataset.pod + ": " + pod.dataset.status + ", ready " +
    pod.dataset.ready + ", " + restarts + " restarts");
  return pod;
}

/** Focuses a pod block. */
export function focusPod(pod) {
  focusable(pod).focus();
}

/** `el` is the wall's tab stop. */
export function isRover(el) {
  return rover === el;
}

/** Makes `el` the wall's tab stop. */
export function setRover(el) {
  if (rover === el) return;
  if (rover && rover.isConnected && rover.hasAttribute("data-pod")) rover.tabIndex = -1;
  rover = el;
  if (el) focusable(el).tabIndex = 0;
}

/** Keeps a tab stop on the wall when its pod went. */
export function keepRover() {
  if (!rover || !rover.isConnected || !rover.hasAttribute("data-pod")) {
    rover = null;
    setRover(wall.querySelector("[data-pod]"));
  }
}

function describe(pod) {
  const [ns, name] = pod.dataset.pod.split("/");
  const box = pod.closest("section");
  const rows = [
    ["namespace", ns],
    ["name", name],
    ["status", pod.dataset.status],
    ["ready", pod.dataset.ready],
    ["restarts", pod.dataset.restarts || "0"],
    ...lastRestartRows(pod),
    ...(pod.dataset.message ? [["why", pod.dataset.message, "why"]] : []),
    ...(pod.dataset.warning ? [["warning", pod.dataset.warning, "warn"]] : []),
    ["age", pod.dataset.created ? ageText(Date.now() - Date.parse(pod.dataset.created)) : "?"],
    ["node", box && box.dataset.node !== undefined ? box.dataset.node : "(unscheduled)"],
    ["owner", pod.dataset.owner || "(none)"],
    ["requests", "cpu " + cpuText(Number(pod.dataset.cpu) || 0) + ", memory " + bytesText(Number(pod.dataset.mem) || 0)],
  ];
  for (const more of extraRows) rows.push(...more(pod));
  const dl = el("dl");
  for (const [k, v, cls] of rows) dl.append(el("dt", "", k), el("dd", cls, v));
  return dl;
}

// "4m ago: OOMKilled (exit 137)", marked when within the hour.
function lastRestartRows(pod) {
  const reason = pod.dataset.lastRestartReason;
  if (!reason) return [];
  const at = Date.parse(pod.dataset.lastRestart || "");
  const when = Number.isNaN(at) ? "" : ageText(Date.now() - at) + " ago: ";
  const text = when + reason + " (exit " + pod.dataset.lastRestartExit + ")";
  return [["last restart", text, pod.classList.contains("rr") ? "recent" : ""]];
}

function showDetail(pod) {
  if (!detail) return;
  detail.replaceChildren(describe(pod));
  detail.className = "detail " + (pod.className.match(/\bs-\w+/) || [""])[0];
  const r = anchor || pod.getBoundingClientRect();
  const w = 320;
  const left = Math.min(window.scrollX + r.left, window.scrollX + document.documentElement.clientWidth - w - 8);
  detail.style.left = Math.max(8, left) + "px";
  detail.style.top = (window.scrollY + r.bottom + 6) + "px";
  pod.setAttribute("aria-describedby", "detail");
}

/** Hides the details. */
export function hideDetail() {
  if (detail) detail.classList.add("hidden");
}

/** Runs `f` (which dispatches a mouseover) with the details shown at `rect` (viewport
 * pixels: left, bottom) instead of at the block's own place. */
export function anchored(rect, f) {
  anchor = rect;
  try {
    f();
  } finally {
    anchor = null;
  }
}

/** Listens on the wall: hover, focus and tap show details; the arrow keys walk. */
export function listen() {
  wall.addEventListener("mouseover", function (e) {
    const pod = e.target.closest("[data-pod]");
    if (pod) showDetail(pod);
  });
  wall.addEventListener("mouseleave", hideDetail);
  wall.addEventListener("focusin", function (e) {
    const pod = e.target.closest("[data-pod]");
    if (!pod) return;
    setRover(pod);
    showDetail(pod);
  });
  wall.addEventListener("focusout", hideDetail);
  wall.addEventListener("click", function (e) {
    const pod = e.target.closest("[data-pod]");
    if (pod) focusPod(pod);
  });
  wall.addEventListener("keydown", function (e) {
    const pod = e.target.closest("[data-pod]");
    if (!pod) return;
    if (e.key === "Escape") {
      hideDetail();
      return;
    }
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (!step) return;
    const all = Array.from(wall.querySelectorAll("[data-pod]"));
    const next = all[all.indexOf(pod) + step];
    if (next) {
      e.preventDefault();
      focusPod(next);
    }
  });
}
