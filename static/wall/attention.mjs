// podwall: the attention state of alert=… rules (or the screen's own), from the stream's
// `attention` events: the header turns to its alert state and names each rule and what
// it matches, and the matching pod and node boxes pulse. The server decides when an
// alert starts and clears (with its quiet period); the page only shows it.

import { el } from "./el.mjs";

const header = document.querySelector("header.top");
const box = document.getElementById("attention");
// What is marked now: "pod/<ns>/<name>" and "node/<name>" keys.
let marked = new Set();

function elementOf(key) {
  const [kind, rest] = [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)];
  const sel = kind === "pod" ? '[data-pod="' + CSS.escape(rest) + '"]' : '[data-node="' + CSS.escape(rest) + '"]';
  return document.querySelector(sel);
}

/** Marks the matching boxes again: fragments replaced since have lost their mark. */
export function remark() {
  document.querySelectorAll(".alert-match").forEach(function (e) {
    if (!marked.has(e.dataset.pod ? "pod/" + e.dataset.pod : "node/" + e.dataset.node)) e.classList.remove("alert-match");
  });
  marked.forEach(function (key) {
    const e = elementOf(key);
    if (e) e.classList.add("alert-match");
  });
}

/** Shows `{"alerts":[{"rule","objects","count","clearing"}]}`. */
export function showAttention(d) {
  if (!box || !header) return;
  const alerts = (d && d.alerts) || [];
  const list = box.querySelector(".attention-list");
  list.replaceChildren();
  const next = new Set();
  alerts.forEach(function (a) {
    const li = el("li", a.clearing ? "clearing" : "");
    li.dataset.rule = a.rule;
    li.append(el("span", "rule", a.rule));
    let names = a.objects.join(", ");
    if (a.count > a.objects.length) names += " (+" + (a.count - a.objects.length) + " more)";
    li.append(el("span", "objects", names));
    list.append(li);
    a.objects.forEach(function (o) {
      // Pods are namespace/name; nodes have no slash.
      next.add(o.indexOf("/") >= 0 ? "pod/" + o : "node/" + o);
    });
  });
  marked = next;
  const on = alerts.length > 0;
  box.classList.toggle("hidden", !on);
  header.classList.toggle("alerting", on);
  document.documentElement.dataset.attention = on ? "alert" : "clear";
  remark();
}
