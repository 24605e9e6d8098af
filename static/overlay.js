// podwall overlay: live usage beside requests and click-through links, drawn over the
// wall that wall.js keeps live. Reads the data-* attributes the server puts on #wall-root
// (usage-interval-ms, pod-links, node-links); without them it does nothing.
"use strict";

(function () {
  const root = document.getElementById("wall-root");
  const wall = document.getElementById("wall");
  if (!root || !wall || root.hasAttribute("data-error")) return;
  const interval = Number(root.dataset.usageIntervalMs) || 0;
  const podLinks = root.hasAttribute("data-pod-links");
  const nodeLinks = root.hasAttribute("data-node-links");
  const detail = document.getElementById("detail");
  // The last /api/usage answer; null until the first one.
  let usage = null;
  // Bumped per answer: a header whose rows carry this version needs no DOM writes.
  let version = 0;
  let drawQueued = false;

  function cpuText(m) {
    if (m < 1000) return m + "m";
    const t = Math.round(m / 100);
    return t % 10 === 0 ? String(t / 10) : (t / 10).toFixed(1);
  }

  function bytesText(b) {
    const units = ["", "Ki", "Mi", "Gi", "Ti"];
    let u = 0;
    let v = b;
    while (u + 1 < units.length && v >= 1024) { v /= 1024; u += 1; }
    return (v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)) + units[u];
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- usage ---------------------------------------------------------------------------

  // A quiet note in the top bar while usage is unknown; never a banner.
  function showNote() {
    const top = root.querySelector("header.top");
    if (!top) return;
    let note = document.getElementById("usage-note");
    const ok = usage && usage.status === "ok";
    if (ok || !usage || usage.status === "waiting") {
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
    const sample = usage && usage.status === "ok" && box ? usage.nodes[box.dataset.node] : null;
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

  // Headers wall.js put in since the last draw; null means every header (a new answer).
  let fresh = null;

  // At the tiny and micro sizes wall.css hides a header's usage rows: drawing them into a
  // thousand hidden headers cost 40–50 ms per answer at 1,000 nodes, a long task. They are
  // drawn when the wall grows back (wall.js sets the density on <html>).
  function usageHidden() {
    const density = document.documentElement.dataset.density;
    return density === "tiny" || density === "micro";
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
  // and walking its thousand headers each frame cost more than wall.js itself.
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

  if (interval > 0) {
    // wall.js replaces node headers on every node change: draw the usage rows again.
    new MutationObserver(added).observe(wall, { childList: true, subtree: true });
    new MutationObserver(function () {
      if (!usageHidden() && fresh === null) schedule();
    }).observe(document.documentElement, { attributes: true, attributeFilter: ["data-density"] });
    poll();
  }

  // ---- pod details ---------------------------------------------------------------------

  // Runs after wall.js's own listener (scripts run in order), so its list is in place.
  function addDetails(e) {
    const pod = e.target.closest("[data-pod]");
    const dl = detail && detail.querySelector("dl");
    if (!pod || !dl || dl.dataset.overlay === pod.dataset.pod) return;
    dl.dataset.overlay = pod.dataset.pod;
    const rows = [];
    if (interval > 0) {
      const s = usage && usage.status === "ok" ? usage.pods[pod.dataset.pod] : null;
      const text = s
        ? "cpu " + cpuText(s.cpuMillis) + ", memory " + bytesText(s.memoryBytes)
        : usage && usage.status !== "ok" && usage.status !== "waiting"
          ? "unknown (" + usage.status + ")"
          : "none reported";
      rows.push(["usage", text]);
    }
    if (podLinks) rows.push(["link", "click or Enter opens it"]);
    for (const [k, v] of rows) dl.append(el("dt", "", k), el("dd", "overlay-" + k, v));
  }
  if (interval > 0 || podLinks) {
    wall.addEventListener("mouseover", addDetails);
    wall.addEventListener("focusin", addDetails);
  }

  // ---- other clusters ------------------------------------------------------------------

  // On a multi-cluster server: a bar of every cluster with its health, and with
  // ?rotate=SECONDS a wall screen that shows each cluster in turn.
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

  // Inside the overview's frame, the overview itself names the clusters.
  if (root.hasAttribute("data-clusters") && window.self === window.top) {
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

  // ---- links ---------------------------------------------------------------------------

  function open(path) {
    window.open(path, "_blank", "noopener");
  }

  function podPath(pod) {
    const [ns, name] = pod.dataset.pod.split("/");
    return "link/pod/" + encodeURIComponent(ns) + "/" + encodeURIComponent(name);
  }

  if (podLinks || nodeLinks) {
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
})();
