// podwall: click-through links. With --link-template a click (or Enter) on a pod opens its
// link, with --node-link-template a click on a node's name opens the node's; the server
// expands the templates (/link/pod/<ns>/<name>, /link/node/<name>).

import { addDetailRows } from "./details.mjs";

const root = document.getElementById("wall-root");
const wall = document.getElementById("wall");

function open(path) {
  window.open(path, "_blank", "noopener");
}

function podPath(pod) {
  const [ns, name] = pod.dataset.pod.split("/");
  return "link/pod/" + encodeURIComponent(ns) + "/" + encodeURIComponent(name);
}

/** Opens links when the server has templates (data-pod-links, data-node-links on #wall-root). */
export function openLinks() {
  const podLinks = root.hasAttribute("data-pod-links");
  const nodeLinks = root.hasAttribute("data-node-links");
  if (podLinks) addDetailRows(function () { return [["link", "click or Enter opens it", "overlay-link"]]; });
  if (!podLinks && !nodeLinks) return;
  wall.addEventListener("click", function (e) {
    const pod = podLinks && e.target.closest("[data-pod]");
    if (pod) return open(podPath(pod));
    const name = nodeLinks && e.target.closest(".node-name");
    const box = name && name.closest("[data-node]");
    if (box && box.dataset.node) open("link/node/" + encodeURIComponent(box.dataset.node));
  });
  wall.addEventListener("keydown", function (e) {
    const pod = podLinks && e.key === "Enter" && e.target.closest("[data-pod]");
    if (pod) open(podPath(pod));
  });
}
