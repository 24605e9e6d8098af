// podwall: on a server of several clusters, a bar of every cluster with its health in the
// top bar, and with ?rotate=SECONDS a wall screen that shows each cluster in turn. Inside
// the overview's frames nothing: the overview itself names the clusters.

import { el } from "./el.mjs";

const root = document.getElementById("wall-root");

function drawClusters(list) {
  const top = root.querySelector("header.top");
  if (!top) return;
  let nav = document.getElementById("cluster-nav");
  if (!nav) {
    nav = el("nav", "cluster-nav");
    nav.id = "cluster-nav";
    nav.setAttribute("aria-label", "clusters");
    top.querySelector("h1").after(nav);
  }
  nav.replaceChildren();
  for (const c of list) {
    const state = !c.ready ? "syncing" : c.apiserver.apiserver;
    const a = el("a", "cluster-link " + state);
    a.href = c.path + location.search;
    a.dataset.clusterLink = c.name;
    a.title = c.name + ": " + (c.apiserver.message || state);
    if (c.name === root.dataset.cluster) a.setAttribute("aria-current", "page");
    a.append(el("span", "dot"), document.createTextNode(c.name));
    nav.append(a);
  }
}

function pollClusters() {
  fetch("/api/clusters", { cache: "no-store", credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (list) { if (list) drawClusters(list); })
    .catch(function () {})
    .finally(function () { setTimeout(pollClusters, 5000); });
}

/** Shows the cluster bar when the server has several clusters (data-clusters on #wall-root). */
export function showClusters() {
  if (!root.hasAttribute("data-clusters") || window.self !== window.top) return;
  pollClusters();
  const rotate = Number(new URLSearchParams(location.search).get("rotate")) || 0;
  if (rotate > 0) {
    setTimeout(function () {
      const links = Array.from(document.querySelectorAll("[data-cluster-link]"));
      const here = links.findIndex(function (a) { return a.dataset.clusterLink === root.dataset.cluster; });
      const next = links[(here + 1) % Math.max(links.length, 1)];
      if (next) location.href = next.href;
    }, rotate * 1000);
  }
}
