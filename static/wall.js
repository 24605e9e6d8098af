// podwall: keeps the server-rendered wall live by applying /events fragments.
// Every fragment is HTML rendered by the server's templates; this script only places it,
// batching the DOM work of each animation frame so bursts of changes never freeze the page.
"use strict";

(function () {
  const html = document.documentElement;
  const root = document.getElementById("wall-root");
  const wall = document.getElementById("wall");
  if (!root || !wall) return;
  const conn = document.getElementById("conn");
  const placeholder = document.getElementById("node-placeholder");
  const detail = document.getElementById("detail");
  const apiBanner = document.getElementById("api-banner");
  const staleBanner = document.getElementById("stale-banner");
  const authBanner = document.getElementById("auth-banner");
  const group = html.dataset.group || "";
  const sort = html.dataset.sort || "name";
  const kiosk = html.classList.contains("kiosk");
  const DENSITIES = ["large", "normal", "small", "dots", "tiny", "micro"];
  const FADE_MS = 700;
  const PULSE_MS = 1200;
  // While signed out, how often the page asks again whether its token works.
  const AUTH_RETRY_MS = 30000;

  let source = null;
  let queue = [];
  let flushQueued = false;
  // Boxes whose pods or header changed: their header and tally are updated, then (on the
  // board) their cells drawn again.
  let dirtyBoxes = new Set();
  // Boxes only to draw again on the board (a pulse or fade ended), or left over when the
  // last frame ran out of time.
  const boardDirty = new Set();
  // The header counts: forced at once (countsDue), or behind the wall's changes (countsStale).
  let countsDue = true;
  let countsStale = false;
  let countsWake = false;
  const COUNTS_MS = 500;
  // A recount waits for a frame with time left, but never longer than this: a backlog that
  // fills every frame must not freeze the header.
  const COUNTS_MAX_MS = 2000;
  let lastUpdate = Date.now();
  let lastCounts = 0;
  let lastFit = 0;
  let lastFitPods = -1;
  // The kiosk size that last proved too big, and at how many pods (see fit).
  let tooBig = { level: -1, pods: 0 };
  // Blocks that pulse, oldest first, with the time their pulse ends: one sweep per frame
  // ends them (a timer or listener per block would cost more at hundreds of changes/s).
  let pulses = [];
  let pulseWake = false;
  // Blocks fading out after a delete, oldest first, swept the same way.
  let fades = [];
  // The API server's health as last reported; the indicator shows it once connected.
  let apiStatus = conn
    ? { apiserver: conn.classList[1] || "ok", message: conn.querySelector(".conn-msg").textContent }
    : { apiserver: "ok", message: "" };

  const parser = document.createElement("template");

  function fromHtml(markup) {
    parser.innerHTML = markup;
    return parser.content.firstElementChild;
  }

  // Parses the fragments of the next `n` events in one go: one parser run for many small
  // fragments costs a fraction of one run each. Every fragment is one element; if the count
  // does not match, each event parses its own (d.el stays unset).
  function parseAhead(list, from, n) {
    const events = [];
    let markup = "";
    for (let i = from; i < list.length && events.length < n; i++) {
      const d = list[i].data;
      if (list[i].type === "reset" || !d || typeof d.html !== "string" || d.el) continue;
      events.push(d);
      markup += d.html;
    }
    if (events.length < 2) return;
    parser.innerHTML = markup;
    const els = parser.content.children;
    if (els.length !== events.length) return;
    const all = Array.from(els);
    for (let i = 0; i < events.length; i++) events[i].el = all[i];
  }

  function show(el, on) {
    if (el) el.classList.toggle("hidden", !on);
  }

  // ---- connection state ---------------------------------------------------------------

  function setConn(state, text, message) {
    if (!conn) return;
    conn.className = "conn " + state;
    conn.querySelector(".conn-text").textContent = text;
    conn.querySelector(".conn-msg").textContent = message || "";
  }

  function showStatus(s) {
    apiStatus = s;
    if (s.apiserver === "ok") setConn("ok", "live", "");
    else setConn(s.apiserver, "apiserver " + s.apiserver, s.message);
    if (apiBanner) {
      apiBanner.querySelector("b").textContent =
        s.apiserver === "forbidden" ? "API server access forbidden." : "API server " + s.apiserver + ".";
      apiBanner.querySelector(".banner-msg").textContent = s.message || "";
      show(apiBanner, s.apiserver !== "ok");
    }
  }

  function setStale(stale) {
    root.classList.toggle("stale", stale);
    show(staleBanner, stale);
  }

  // ---- placing elements ---------------------------------------------------------------

  function nodeName(box) {
    return box.dataset.node || "";
  }

  // Node names sort like people read them: worker-2 before worker-10 (as the server does).
  function naturalKey(name) {
    return name.replace(/\d+/g, function (d) { return String(d.length).padStart(3, "0") + d; });
  }

  // Keys by header: a node's update replaces its header (its role may change).
  const nodeKeys = new WeakMap();

  function nodeKey(box) {
    const head = box.querySelector(".node-head");
    let key = head && nodeKeys.get(head);
    if (key !== undefined && key !== null) return key;
    key = naturalKey(nodeName(box));
    if (sort === "role") key = (head && head.dataset.role ? head.dataset.role : "~~") + "\u0000" + key;
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

  function insertSorted(container, box) {
    const key = nodeKey(box);
    for (const other of container.children) {
      if (other !== box && nodeKey(other) > key) {
        board.stale = true;
        container.insertBefore(box, other);
        return;
      }
    }
    container.appendChild(box);
  }

  function sortNodes() {
    const container = wall.querySelector(".nodes");
    if (!container) return;
    compact();
    const boxes = Array.from(container.children);
    if (sort === "usage") {
      const u = new Map(boxes.map(function (b) { return [b, usage(b)]; }));
      boxes.sort(function (a, b) { return u.get(b) - u.get(a) || (nodeKey(a) < nodeKey(b) ? -1 : 1); });
    } else {
      boxes.sort(function (a, b) { return nodeKey(a) < nodeKey(b) ? -1 : 1; });
    }
    container.append.apply(container, boxes);
    board.stale = true;
  }

  function groupKey(pod) {
    if (group === "namespace") return pod.dataset.pod.split("/")[0];
    if (group === "owner") return pod.dataset.owner || "(no owner)";
    return "";
  }

  // Where a pod block lives inside a box: its `.pods`, or its group there.
  function podContainer(box, pod) {
    const pods = box.querySelector(".pods");
    if (!group) return pods;
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

  function dropEmptyGroup(container) {
    if (container && container.classList.contains("group") && !container.querySelector("[data-pod]")) {
      container.remove();
    }
  }

  function groupAll() {
    if (!group) return;
    for (const pods of wall.querySelectorAll(".pods")) {
      const box = pods.closest("section");
      for (const pod of Array.from(pods.querySelectorAll(":scope > [data-pod]"))) {
        podContainer(box, pod).appendChild(pod);
      }
    }
  }

  // One tab stop for the whole wall (a roving tabindex): Tab enters at one pod, the arrow
  // keys move between pods, Tab leaves. Twenty thousand tab stops would trap a keyboard.
  let rover = null;

  // Pods get their role, name and focusability when the keyboard or a pointer reaches
  // them, not in the HTML: twenty thousand labels would be a third of a big wall's page.
  function focusable(pod) {
    if (!pod.hasAttribute("tabindex")) pod.tabIndex = -1;
    pod.setAttribute("role", "button");
    const restarts = pod.dataset.restarts || "0";
    pod.setAttribute("aria-label", pod.dataset.pod + ": " + pod.dataset.status + ", ready " +
      pod.dataset.ready + ", " + restarts + " restarts");
    return pod;
  }

  function focusPod(pod) {
    focusable(pod).focus();
  }

  function setRover(el) {
    if (rover === el) return;
    if (rover && rover.isConnected && rover.hasAttribute("data-pod")) rover.tabIndex = -1;
    rover = el;
    if (el) focusable(el).tabIndex = 0;
  }

  function keepRover() {
    if (!rover || !rover.isConnected || !rover.hasAttribute("data-pod")) {
      rover = null;
      setRover(wall.querySelector("[data-pod]"));
    }
  }

  function arrange() {
    board.stale = true;
    groupAll();
    sortNodes();
    for (const box of wall.querySelectorAll("section")) dirtyBoxes.add(box);
    countsDue = true;
  }

  function nodeBox(id) {
    let box = document.getElementById(id);
    if (box) return box;
    // A pod on a node the wall has no details for: a placeholder box keeps it visible.
    const name = id.slice("node/".length);
    box = placeholder.content.firstElementChild.cloneNode(true);
    box.id = id;
    box.dataset.node = name;
    box.setAttribute("aria-label", "node " + name);
    box.querySelector(".node-name").textContent = name;
    insertSorted(wall.querySelector(".nodes"), box);
    return box;
  }

  // A node box that goes leaves an empty, unmarked cell (a ghost) instead of closing the
  // gap at once: closing it moves every box after it, and on a thousand-node wall that one
  // frame costs ~100 ms of layout, paint and compositing. Ghosts go all at once (see tick)
  // when they are more than 5% of the cells or the oldest is COMPACT_MS old, so a cluster
  // losing nodes costs one such frame now and then, not one per node.
  const COMPACT_MS = 30000;
  let firstGhost = 0;
  let ghosts = 0;

  function compactDue(now) {
    if (!ghosts) return false;
    const container = wall.querySelector(".nodes");
    const cells = container ? container.children.length : 0;
    return ghosts > Math.max(2, cells * 0.05) || now - firstGhost > COMPACT_MS;
  }

  function dropBox(box) {
    box.removeAttribute("id");
    box.removeAttribute("data-node");
    box.removeAttribute("aria-label");
    box.setAttribute("aria-hidden", "true");
    box.className = "node ghost";
    box.replaceChildren();
    // Still dirty: the board draws the empty cell (updateBox skips boxes without an id).
    dirtyBoxes.add(box);
    tallies.delete(box);
    if (!firstGhost) firstGhost = Date.now();
    ghosts += 1;
  }

  function compact() {
    board.stale = true;
    firstGhost = 0;
    ghosts = 0;
    for (const ghost of wall.querySelectorAll(".nodes > .ghost")) ghost.remove();
  }

  function dropIfEmptyPlaceholder(box) {
    if (box && box.dataset.node !== undefined && box.querySelector(".node-head.unavailable") &&
        !box.querySelector("[data-pod]")) {
      dropBox(box);
    }
  }

  function pulse(el) {
    el.classList.add("pulse");
    pulses.push({ el: el, until: Date.now() + PULSE_MS });
  }

  // Ends the entries of a time-ordered list (pulses, fades) that are due; returns the rest.
  function sweep(list, now, end) {
    let i = 0;
    while (i < list.length && list[i].until <= now) {
      end(list[i].el);
      i += 1;
    }
    return i ? list.slice(i) : list;
  }

  function endPulse(el) {
    el.classList.remove("pulse");
    const box = el.closest("section");
    if (board.on && box) boardDirty.add(box);
  }

  // Keeps a deleted block visible, unmarked, while it fades out.
  function fadeOut(el) {
    el.removeAttribute("id");
    el.removeAttribute("data-pod");
    el.removeAttribute("tabindex");
    el.setAttribute("aria-hidden", "true");
    el.classList.add("gone");
    fades.push({ el: el, until: Date.now() + FADE_MS });
  }

  function endFade(el) {
    const container = el.parentNode;
    const box = el.closest("section");
    if (board.on && box) boardDirty.add(box);
    el.remove();
    dropEmptyGroup(container);
  }

  function upsertPod(d) {
    const el = d.el || fromHtml(d.html);
    const box = d.parent === "unscheduled" ? document.getElementById("unscheduled") : nodeBox(d.parent);
    const container = podContainer(box, el);
    const old = document.getElementById(d.id);
    dirtyBoxes.add(box);
    if (old && old.parentNode === container) {
      if (old.dataset.status !== el.dataset.status || old.dataset.restarts !== el.dataset.restarts) pulse(el);
      const focused = document.activeElement === old;
      const roving = rover === old;
      old.replaceWith(el);
      if (roving) setRover(el);
      if (focused) focusPod(el);
      return;
    }
    pulse(el);
    const focused = old !== null && document.activeElement === old;
    const roving = old !== null && rover === old;
    if (old) {
      const oldBox = old.closest("section");
      const oldContainer = old.parentNode;
      dirtyBoxes.add(oldBox);
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
    dirtyBoxes.add(box);
    fadeOut(old);
    dropIfEmptyPlaceholder(box);
  }

  function upsertNode(d) {
    const head = d.el || fromHtml(d.html);
    const box = document.getElementById(d.id);
    if (box) {
      box.querySelector(".node-head").replaceWith(head);
      dirtyBoxes.add(box);
      return;
    }
    const name = d.id.slice("node/".length);
    const fresh = placeholder.content.firstElementChild.cloneNode(true);
    fresh.id = d.id;
    fresh.dataset.node = name;
    fresh.setAttribute("aria-label", "node " + name);
    fresh.querySelector(".node-head").replaceWith(head);
    insertSorted(wall.querySelector(".nodes"), fresh);
    dirtyBoxes.add(fresh);
  }

  function deleteNode(d) {
    const box = document.getElementById(d.id);
    if (!box) return;
    if (box.querySelector("[data-pod]")) {
      box.querySelector(".node-head").replaceWith(d.el || fromHtml(d.html));
      dirtyBoxes.add(box);
    } else {
      dropBox(box);
    }
  }

  // ---- counts, bars, density ----------------------------------------------------------

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
    const div = Math.pow(1024, u);
    if (b % div === 0 || v >= 100) return Math.floor(b / div) + units[u];
    return (b / div).toFixed(1) + units[u];
  }

  // Pods per status of each box, recomputed only when the box changed, so the header
  // counts cost O(boxes) per frame instead of O(pods).
  const tallies = new WeakMap();

  // What a pod block says, read once per block: blocks are replaced, never changed, and
  // reading dataset on every pod of every changed box was a third of the script's time.
  const podInfos = new WeakMap();

  function podInfo(p) {
    let info = podInfos.get(p);
    if (!info) {
      const m = /\bs-(\w+)/.exec(p.className);
      info = {
        status: p.getAttribute("data-status"),
        cls: m ? m[1] : "unknown",
        cpu: Number(p.getAttribute("data-cpu")) || 0,
        mem: Number(p.getAttribute("data-mem")) || 0,
      };
      podInfos.set(p, info);
    }
    return info;
  }

  // Counts a box's pods per status (kept in `tallies`) and sums their requests, in one pass.
  function tallyOf(box, pods) {
    const tally = new Map();
    let cpu = 0;
    let mem = 0;
    for (const p of pods) {
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

  // The numbers each header shows, so a box whose sums did not change gets no DOM writes.
  const shown = new WeakMap();

  function updateBox(box) {
    if (!box.isConnected || !box.id) return;
    const pods = box.querySelectorAll("[data-pod]");
    const { cpu, mem } = tallyOf(box, pods);
    const head = box.firstElementChild;
    if (!head || !head.classList.contains("node-head")) return;
    const key = pods.length + " " + cpu + " " + mem;
    if (shown.get(head) === key) return;
    shown.set(head, key);
    const n = head.querySelector(".node-count .n");
    if (n) n.textContent = pods.length;
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
    head.classList.toggle("full", pods.length >= capacity && capacity > 0);
  }

  function updateCounts() {
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
    return total;
  }

  // Same thresholds as the server's first render (render.rs).
  function baseDensity(pods) {
    if (html.hasAttribute("data-compact") || pods > 5000) return 3;
    if (pods > 1500) return 2;
    if (pods > 400) return 1;
    return 0;
  }

  function setDensity(level) {
    if (html.dataset.density !== DENSITIES[level]) html.dataset.density = DENSITIES[level];
    boardFollow();
  }

  // In kiosk mode the wall must fit the screen: shrink pods until it does, and grow them
  // back one step when there is clearly room. It starts from the current size, so a wall
  // that already fits costs one layout read, not a relayout per size.
  // The wall's height in viewport pixels (a kiosk page may be zoomed, see wall.css).
  function height() {
    return root.getBoundingClientRect().height;
  }

  function fit(pods) {
    const base = baseDensity(pods);
    if (!kiosk) {
      setDensity(base);
      return;
    }
    let level = Math.max(base, DENSITIES.indexOf(html.dataset.density));
    setDensity(level);
    // Trying a bigger size relayouts the whole wall twice when it does not fit, so a size
    // that did not fit is not tried again until the wall has clearly fewer pods.
    const retry = !(tooBig.level === level - 1 && pods > tooBig.pods * 0.95);
    // The root's own height: the document's is clipped to the screen in kiosk mode.
    if (level > base && retry && height() < window.innerHeight * 0.6) {
      level -= 1;
      setDensity(level);
      if (height() > window.innerHeight) tooBig = { level: level, pods: pods };
    }
    // Shrinking because the wall overflowed: the size it left is too big at this count, so
    // the next fit does not try it again (each try restyles and relayouts the whole wall).
    while (level < DENSITIES.length - 1 && height() > window.innerHeight) {
      tooBig = { level: level, pods: pods };
      level += 1;
      setDensity(level);
    }
  }

  // ---- the board: the smallest kiosk size, drawn on canvases --------------------------

  // At the micro size a kiosk wall is a thousand node boxes of 3-pixel pods, and every frame
  // that changed one made Chromium walk all of them: 20,000 elements to lay out, paint and
  // layerize, 1,000 compositor layers to commit, 50–60 ms of CPU a frame at 20,000 pods
  // (benches/page.rs). So at that size the node boxes are drawn instead, one canvas per
  // row of boxes, and a change redraws its box's cell. The boxes stay in the DOM, not
  // rendered, as this script's model and as the markers tools read. The geometry follows
  // the micro CSS.
  const BOARD = {
    minCell: 58, gap: 2, border: 1, padX: 2, padTop: 1, padBottom: 2,
    name: 9, pod: 3, podGap: 1,
  };
  const board = {
    on: false,
    // Boxes came, went or moved: lay every row out again.
    stale: true,
    el: null,
    colors: null,
    font: "",
    scale: 1,
    width: 0,
    cols: 1,
    cellWidth: BOARD.minCell,
    perRow: 1,
    // Each row: its canvas, its 2D context, its boxes, its height (CSS pixels).
    rows: [],
    // Rows to lay out and draw again (by index), in order.
    pending: [],
    // Each box drawn: its row and column, and the blocks in drawing order (for hovering).
    cells: new Map(),
    nameWidths: new Map(),
    // Cell-sized images by "wxh", reused (see cellImage).
    images: new Map(),
    hoverRect: null,
  };

  function boardWanted() {
    return kiosk && html.dataset.density === "micro";
  }

  // Turns the board on or off with the density; laid out at once, since fit measures it.
  function boardFollow() {
    const want = boardWanted();
    if (want === board.on) return;
    board.on = want;
    if (!want) {
      // Back to boxes: the canvases go (about 4 bytes a pixel of the wall).
      for (const row of board.rows) row.canvas.remove();
      board.rows = [];
      board.pending = [];
      board.cells = new Map();
      boardDirty.clear();
      return;
    }
    if (!board.el) {
      board.el = document.createElement("div");
      board.el.id = "wall-board";
      board.el.setAttribute("aria-hidden", "true");
      board.el.addEventListener("mousemove", boardHover);
      board.el.addEventListener("mouseleave", hideDetail);
      wall.before(board.el);
    }
    const style = getComputedStyle(html);
    const c = { pixels: {} };
    for (const name of ["panel", "line", "text", "muted", "ok", "starting", "notready", "bad", "done", "terminating", "unknown"]) {
      c[name] = style.getPropertyValue("--" + name).trim();
      c.pixels[name] = pixel(c[name]);
    }
    c.badTint = mix(c.pixels.bad, c.pixels.panel, 0.16);
    c.pixels.tint = pixel(c.badTint);
    board.colors = c;
    board.font = "600 " + BOARD.name + "px " + style.fontFamily;
    board.stale = true;
    boardLayout();
    // At once, as fit measures the board's height next.
    boardLayoutRows();
  }

  // A CSS colour as a pixel of a Uint32Array over ImageData (RGBA bytes, little-endian).
  const probe = document.createElement("canvas").getContext("2d", { willReadFrequently: true });

  function pixel(color) {
    probe.clearRect(0, 0, 1, 1);
    probe.fillStyle = color;
    probe.fillRect(0, 0, 1, 1);
    const d = probe.getImageData(0, 0, 1, 1).data;
    return ((d[3] << 24) | (d[2] << 16) | (d[1] << 8) | d[0]) >>> 0;
  }

  // `share` of pixel a over pixel b, as a CSS colour (the NotReady tint of wall.css).
  function mix(a, b, share) {
    const channel = function (shift) {
      return Math.round(((a >>> shift) & 255) * share + ((b >>> shift) & 255) * (1 - share));
    };
    return "rgb(" + channel(0) + "," + channel(8) + "," + channel(16) + ")";
  }

  function boxHeight(pods) {
    const rows = Math.ceil(pods / board.perRow);
    const podsHeight = rows ? rows * (BOARD.pod + BOARD.podGap) - BOARD.podGap : BOARD.pod;
    return 2 * BOARD.border + BOARD.padTop + BOARD.name + podsHeight + BOARD.padBottom;
  }

  // Lays every row out again: columns like the micro CSS grid (auto-fill, at least 58 px).
  function boardLayout() {
    const width = board.el.clientWidth || wall.clientWidth;
    board.scale = (window.devicePixelRatio || 1) * (board.el.currentCSSZoom || 1);
    board.cols = Math.max(1, Math.floor((width + BOARD.gap) / (BOARD.minCell + BOARD.gap)));
    board.cellWidth = (width - BOARD.gap * (board.cols - 1)) / board.cols;
    const inner = board.cellWidth - 2 * BOARD.border - 2 * BOARD.padX;
    board.perRow = Math.max(1, Math.floor((inner + BOARD.podGap) / (BOARD.pod + BOARD.podGap)));
    board.width = width;
    board.cells = new Map();
    // Names of nodes long gone would pile up over weeks of autoscaling.
    board.nameWidths = new Map();
    board.images = new Map();
    const container = wall.querySelector(".nodes");
    const boxes = container ? Array.from(container.children) : [];
    const count = Math.ceil(boxes.length / board.cols);
    while (board.rows.length > count) board.rows.pop().canvas.remove();
    board.pending = [];
    for (let i = 0; i < count; i++) {
      if (!board.rows[i]) board.rows.push(boardNewRow());
      const row = board.rows[i];
      row.boxes = boxes.slice(i * board.cols, (i + 1) * board.cols);
      row.boxes.forEach(function (box, col) { board.cells.set(box, { row: i, col: col, pods: [] }); });
      board.pending.push(i);
    }
    board.stale = false;
  }

  // Lays out the rows still waiting, until `deadline` (a performance.now() time; all of
  // them without one). Laying out a 1,000-node board at once costs 50–90 ms (a node
  // leaving closes its gap: every box after it moves), so the rows are drawn over a few
  // frames; until then a row shows what it showed before.
  function boardLayoutRows(deadline) {
    while (board.pending.length) {
      boardRowLayout(board.pending.shift());
      if (deadline !== undefined && performance.now() > deadline) break;
    }
  }

  function boardNewRow() {
    const canvas = document.createElement("canvas");
    board.el.appendChild(canvas);
    return { canvas: canvas, ctx: canvas.getContext("2d"), boxes: [], h: 0 };
  }

  // Sizes one row's canvas to its tallest box (rows below it move in the page's layout,
  // not on any canvas) and draws its boxes: their pixels as one image, then the lines.
  function boardRowLayout(i) {
    const row = board.rows[i];
    const cells = row.boxes.map(function (box) {
      const cell = board.cells.get(box);
      cell.pods = box.querySelectorAll(".pod");
      return cell;
    });
    let most = 0;
    for (const cell of cells) most = Math.max(most, cell.pods.length);
    row.h = boxHeight(most);
    const s = board.scale;
    row.canvas.style.width = board.width + "px";
    row.canvas.style.height = row.h + "px";
    row.canvas.width = Math.round(board.width * s);
    row.canvas.height = Math.round(row.h * s);
    const image = row.ctx.createImageData(row.canvas.width, row.canvas.height);
    const px = new Uint32Array(image.data.buffer);
    row.boxes.forEach(function (box, col) { boardPixels(box, cells[col], px, 0, row.canvas.width); });
    row.ctx.putImageData(image, 0, 0);
    for (const box of row.boxes) boardLines(box);
  }

  // Redraws the boxes of `boardDirty` in their cells until `deadline` (at least one box;
  // the rest stay for the next frame), then lays out waiting rows. A box that outgrew its
  // row has that row laid out again; a new node at the end takes the next cell; anything
  // else lays out all rows.
  function boardDraw(deadline) {
    for (const box of boardDirty) {
      if (board.stale) break;
      boardDirty.delete(box);
      if (!board.cells.has(box) && box.parentNode && box.parentNode.classList.contains("nodes")) boardAppend(box);
      const cell = board.cells.get(box);
      // A row waiting for its layout draws all its boxes then.
      if (!cell || board.pending.includes(cell.row)) continue;
      const row = board.rows[cell.row];
      cell.pods = box.querySelectorAll(".pod");
      if (boxHeight(cell.pods.length) > row.h) {
        board.pending.push(cell.row);
        continue;
      }
      const r = cellRect(cell);
      const image = cellImage(row.ctx, r.w, r.h);
      boardPixels(box, cell, image.pixels, r.x, r.w);
      row.ctx.putImageData(image.data, r.x, 0);
      boardLines(box);
      if (performance.now() > deadline) break;
    }
    if (board.stale) {
      boardLayout();
      boardDirty.clear();
    }
    boardLayoutRows(deadline);
  }

  // An image the size of a cell, reused (cells come in two widths and a few heights):
  // one new image per redrawn box was megabytes a second of garbage.
  function cellImage(ctx, w, h) {
    const key = w + "x" + h;
    let image = board.images.get(key);
    if (!image) {
      const data = ctx.createImageData(w, h);
      image = { data: data, pixels: new Uint32Array(data.data.buffer) };
      board.images.set(key, image);
    }
    return image;
  }

  // A cell's place in its row: CSS pixels (x, w) and canvas pixels (rect).
  function cellLeft(col) {
    return Math.round(col * (board.cellWidth + BOARD.gap));
  }

  function cellSpan(col) {
    return Math.round((col + 1) * (board.cellWidth + BOARD.gap) - BOARD.gap) - cellLeft(col);
  }

  function cellRect(cell) {
    const s = board.scale;
    const row = board.rows[cell.row];
    const x = Math.round(cellLeft(cell.col) * s);
    return { x: x, w: Math.min(row.canvas.width - x, Math.round(cellSpan(cell.col) * s)), h: row.canvas.height };
  }

  // Writes a box's background and pods as pixels into `px`, an image of canvas pixels
  // starting at column `ox` of the row, `stride` pixels wide: twenty thousand fillRect
  // calls cost ~40 ms, the pixels ~2 ms.
  function boardPixels(box, cell, px, ox, stride) {
    const c = board.colors.pixels;
    const s = board.scale;
    const rows = px.length / stride;
    const fill = function (x, y, w, h, color) {
      const from = Math.max(0, x - ox);
      const to = Math.min(stride, x - ox + w);
      for (let j = Math.max(0, y); j < Math.min(rows, y + h); j++) px.fill(color, j * stride + from, j * stride + to);
    };
    const r = cellRect(cell);
    if (!box.id) {
      fill(r.x, 0, r.w, r.h, 0); // a ghost: its dashed frame only
      return;
    }
    const head = box.firstElementChild;
    const bg = head !== null && head.classList.contains("notready") ? c.tint : c.panel;
    fill(r.x, 0, r.w, r.h, bg);
    const step = BOARD.pod + BOARD.podGap;
    const size = Math.max(1, Math.round(BOARD.pod * s));
    const one = Math.max(1, Math.round(s));
    const left = cellLeft(cell.col) + BOARD.border + BOARD.padX;
    const top = BOARD.border + BOARD.padTop + BOARD.name;
    const pods = cell.pods;
    for (let i = 0; i < pods.length; i++) {
      const p = pods[i];
      const x = Math.round((left + (i % board.perRow) * step) * s);
      const y = Math.round((top + Math.floor(i / board.perRow) * step) * s);
      const cls = p.classList;
      if (cls.contains("gone")) {
        // A deleted pod, fading: an empty outline for a moment.
        fill(x, y, size, size, c.muted);
        fill(x + one, y + one, size - 2 * one, size - 2 * one, bg);
        continue;
      }
      if (cls.contains("pulse")) fill(x - one, y - one, size + 2 * one, size + 2 * one, c.text);
      const info = podInfo(p);
      fill(x, y, size, size, c[info.cls] || c.unknown);
      if (info.cls === "done" && size >= 3) {
        // Completed is round at every size: at three pixels, a square without corners.
        const corner = cls.contains("pulse") ? c.text : bg;
        for (const [cx, cy] of [[0, 0], [size - one, 0], [0, size - one], [size - one, size - one]]) {
          fill(x + cx, y + cy, one, one, corner);
        }
      }
    }
  }

  // Draws a box's frame and name over its pixels.
  function boardLines(box) {
    const cell = board.cells.get(box);
    const ctx = board.rows[cell.row].ctx;
    const c = board.colors;
    const s = board.scale;
    const x = cellLeft(cell.col);
    const w = cellSpan(cell.col);
    const h = board.rows[cell.row].h;
    ctx.setTransform(s, 0, 0, s, 0, 0);
    const head = box.firstElementChild;
    const ghost = !box.id;
    const has = function (cls) { return head !== null && head.classList.contains(cls); };
    const notready = has("notready");
    const cordoned = has("cordoned");
    const line = notready || cordoned ? 2 : 1;
    ctx.lineWidth = line;
    ctx.strokeStyle = notready ? c.bad : cordoned ? c.starting : c.line;
    const dashed = ghost || cordoned || has("unavailable");
    if (dashed) ctx.setLineDash([3, 2]);
    ctx.strokeRect(x + line / 2, line / 2, w - line, h - line);
    if (dashed) ctx.setLineDash([]);
    if (ghost) return;
    const name = box.dataset.node || "";
    const left = x + BOARD.border + BOARD.padX;
    const room = w - 2 * BOARD.border - 2 * BOARD.padX;
    ctx.font = board.font;
    ctx.textBaseline = "top";
    ctx.fillStyle = c.text;
    let nameWidth = board.nameWidths.get(name);
    if (nameWidth === undefined) {
      nameWidth = ctx.measureText(name).width;
      board.nameWidths.set(name, nameWidth);
    }
    const top = BOARD.border + BOARD.padTop;
    if (nameWidth <= room + BOARD.padX) {
      ctx.fillText(name, left, top);
      return;
    }
    // Like the micro CSS (right to left, clipped by the box): a long name keeps its end.
    ctx.save();
    ctx.beginPath();
    ctx.rect(x + line, 0, w - 2 * line, h);
    ctx.clip();
    ctx.fillText(name, left + room - nameWidth, top);
    ctx.restore();
  }

  // A box added after the last one (nodes join with ever higher numbers) takes the next
  // cell; one inserted between others moves every box after it: all rows are laid out.
  function boardAppend(box) {
    const last = board.rows.length - 1;
    const lastRow = board.rows[last];
    const after = lastRow ? lastRow.boxes[lastRow.boxes.length - 1] : null;
    if (after ? box.previousElementSibling !== after : box.previousElementSibling !== null) {
      board.stale = true;
      return;
    }
    if (lastRow && lastRow.boxes.length < board.cols) {
      lastRow.boxes.push(box);
      board.cells.set(box, { row: last, col: lastRow.boxes.length - 1, pods: [] });
      return;
    }
    board.rows.push(boardNewRow());
    board.rows[last + 1].boxes = [box];
    board.cells.set(box, { row: last + 1, col: 0, pods: [] });
    boardRowLayout(last + 1);
  }

  // The pod under the pointer on the board, and where its block is drawn (page pixels).
  function boardPodAt(target, clientX, clientY) {
    const i = board.rows.findIndex(function (row) { return row.canvas === target; });
    if (i < 0) return null;
    const r = target.getBoundingClientRect();
    const zoom = board.el.currentCSSZoom || 1;
    const x = (clientX - r.left) / zoom;
    const y = (clientY - r.top) / zoom;
    const col = Math.floor(x / (board.cellWidth + BOARD.gap));
    const box = board.rows[i].boxes[col];
    const cell = box && board.cells.get(box);
    if (!cell) return null;
    const step = BOARD.pod + BOARD.podGap;
    const left = cellLeft(col) + BOARD.border + BOARD.padX;
    const top = BOARD.border + BOARD.padTop + BOARD.name;
    const pc = Math.floor((x - left) / step);
    const pr = Math.floor((y - top) / step);
    if (pc < 0 || pc >= board.perRow || pr < 0) return null;
    const p = cell.pods[pr * board.perRow + pc];
    if (!p || !p.hasAttribute("data-pod")) return null;
    return {
      pod: p,
      rect: { left: r.left + (left + pc * step) * zoom, bottom: r.top + (top + pr * step + BOARD.pod) * zoom },
    };
  }

  // Hovering a drawn pod shows its details as hovering its block would: the same event on
  // the (unrendered) block, so overlay.js adds its rows too.
  let boardHovered = null;

  function boardHover(e) {
    const hit = boardPodAt(e.target, e.clientX, e.clientY);
    if (!hit) {
      boardHovered = null;
      hideDetail();
      return;
    }
    if (hit.pod === boardHovered) return;
    boardHovered = hit.pod;
    board.hoverRect = hit.rect;
    hit.pod.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    board.hoverRect = null;
  }

  // ---- the event queue ----------------------------------------------------------------

  // Every frame that changes the wall costs the browser a pass over much of it (layout,
  // layerizing and compositing walk every box), so a big wall takes its changes in fewer
  // frames: after a frame that emptied the queue, the next waits BIG_WALL_GAP_MS above
  // BIG_WALL pods (not on the board, where a frame costs what it changed). A frame applies
  // changes for at most EVENTS_MS of script, so a burst never makes one long task: the
  // rest waits for the next frame, in order, and data-seq names the last change applied.
  // On the board a frame costs little beyond its script, so it takes fewer changes
  // (BOARD_EVENTS_MS) and draws and recounts only until FRAME_MS; a DOM wall's frame costs
  // its layout and paint whatever it applied, so it takes more.
  const BIG_WALL = 5000;
  const BIG_WALL_GAP_MS = 250;
  const EVENTS_MS = 8;
  const BOARD_EVENTS_MS = 5;
  const FRAME_MS = 10;
  const PARSE_AHEAD = 32;
  let shownPods = 0;
  let lastFlush = 0;
  let backlog = false;

  function schedule() {
    if (flushQueued) return;
    flushQueued = true;
    const wait = shownPods > BIG_WALL && !backlog && !board.on ? lastFlush + BIG_WALL_GAP_MS - Date.now() : 0;
    // Hidden tabs get no animation frames; a timer keeps the queue from growing there.
    if (document.hidden) setTimeout(flush, 250);
    else if (wait > 0) setTimeout(function () { requestAnimationFrame(flush); }, wait);
    else requestAnimationFrame(flush);
  }

  function flush() {
    flushQueued = false;
    lastFlush = Date.now();
    const started = performance.now();
    const budget = board.on ? BOARD_EVENTS_MS : EVENTS_MS;
    const batch = queue;
    let done = 0;
    let seq = "";
    while (done < batch.length) {
      if (done % PARSE_AHEAD === 0) parseAhead(batch, done, PARSE_AHEAD);
      const ev = batch[done];
      done += 1;
      try {
        ev.handler(ev.data);
      } catch (e) {
        // The page no longer matches the stream: start over from a fresh reset.
        restart();
        return;
      }
      if (ev.id) seq = ev.id;
      if (performance.now() - started > budget) break;
    }
    if (seq) root.dataset.seq = seq;
    queue = done < batch.length ? batch.slice(done) : [];
    backlog = queue.length > 0;
    if (done) lastUpdate = Date.now();
    const now = Date.now();
    pulses = sweep(pulses, now, endPulse);
    fades = sweep(fades, now, endFade);
    for (const box of dirtyBoxes) {
      updateBox(box);
      if (board.on) boardDirty.add(box);
    }
    dirtyBoxes.clear();
    if (board.on) {
      boardDraw(started + FRAME_MS);
      if (boardDirty.size || board.pending.length) schedule();
    }
    keepRover();
    // When the stream goes quiet, one more frame must still end the last pulses and fades.
    if ((pulses.length || fades.length) && !pulseWake) {
      pulseWake = true;
      const next = Math.min(pulses.length ? pulses[0].until : Infinity, fades.length ? fades[0].until : Infinity);
      setTimeout(function () { pulseWake = false; schedule(); }, next - now + 20);
    }
    // Whole-wall recounts are O(boxes): at most twice a second and in a frame with time
    // left (at least every COUNTS_MAX_MS), unless forced (countsDue).
    if (done) countsStale = true;
    const roomLeft = performance.now() - started < FRAME_MS || now - lastCounts > COUNTS_MAX_MS;
    if (countsDue || (countsStale && roomLeft && now - lastCounts > COUNTS_MS)) {
      countsDue = false;
      countsStale = false;
      lastCounts = now;
      const pods = updateCounts();
      shownPods = pods;
      // Fitting reads the layout: only when the wall grew or shrank noticeably (the
      // clock re-fits every 10 s anyway, for new nodes and slow drift).
      if (now - lastFit > 2000 && Math.abs(pods - lastFitPods) > Math.max(10, pods * 0.02)) {
        lastFit = now;
        lastFitPods = pods;
        fit(pods);
      }
    } else if (countsStale && !countsWake) {
      // The stream may go quiet: one more flush must still count the last changes.
      countsWake = true;
      setTimeout(function () { countsWake = false; schedule(); }, lastCounts + COUNTS_MS - now + 20);
    }
    if (backlog) schedule();
  }

  function on(type, handler) {
    source.addEventListener(type, function (ev) {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      queue.push({ type: type, handler: handler, data: data, id: ev.lastEventId });
      schedule();
    });
  }

  // An EventSource never tells why it failed. A 401 means the access-token cookie is gone
  // or no longer accepted (see src/web/auth.rs): say so instead of "reconnecting" forever,
  // and try again now and then in case the token link is opened in another tab.
  function checkAuth(then) {
    fetch("/static/favicon.svg", { cache: "no-store", credentials: "same-origin" }).then(function (r) {
      setSignedOut(r.status === 401);
      if (r.status === 401) setTimeout(function () { checkAuth(then); }, AUTH_RETRY_MS);
      else then();
    }).catch(function () { then(); });
  }

  function setSignedOut(out) {
    show(authBanner, out);
    if (out) setConn("error", "signed out", "");
  }

  function restart() {
    if (source) source.close();
    queue = [];
    root.dataset.seq = "";
    connect();
  }

  function connect() {
    const params = new URLSearchParams(location.search);
    params.set("lastEventId", root.dataset.seq);
    // Relative: a cluster's wall lives under /clusters/<name>/ on a multi-cluster server.
    source = new EventSource("events?" + params.toString());
    source.onopen = function () {
      setStale(false);
      setSignedOut(false);
      showStatus(apiStatus);
    };
    source.onerror = function () {
      setConn("reconnecting", "reconnecting…", "");
      setStale(true);
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. a 4xx/5xx): find out why, then start over from the
        // last applied event.
        checkAuth(function () { setTimeout(connect, 3000); });
      }
    };
    on("reset", function (d) {
      wall.innerHTML = d.html;
      dirtyBoxes.clear();
      arrange();
      lastFit = 0;
      lastFitPods = -1;
      if (d.apiserver) showStatus(d.apiserver);
    });
    on("upsert", function (d) {
      if (d.id.startsWith("pod/")) upsertPod(d);
      else upsertNode(d);
    });
    on("delete", function (d) {
      if (d.id.startsWith("pod/")) deletePod(d);
      else deleteNode(d);
    });
    on("status", showStatus);
  }

  // ---- clock, update age, first sync --------------------------------------------------

  const clock = document.getElementById("clock");
  const age = document.getElementById("age");

  function ageText(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m";
    if (s < 86400) return Math.floor(s / 3600) + "h";
    return Math.floor(s / 86400) + "d";
  }

  function tick() {
    const now = new Date();
    if (clock) {
      clock.textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
      clock.dateTime = now.toISOString();
    }
    if (age) {
      const stale = root.classList.contains("stale");
      age.textContent = (stale ? "stale, last update " : "updated ") + ageText(now - lastUpdate) + " ago";
    }
    if (kiosk && now - lastFit > 10000) {
      lastFit = now.getTime();
      // The last count, not a query of every block (a 20,000-element walk).
      fit(shownPods);
    }
    if (sort === "usage" && now.getSeconds() === 0) sortNodes();
    else if (compactDue(now.getTime())) compact();
  }

  function pollSync() {
    const banner = document.getElementById("sync");
    if (!banner) return;
    fetch("readyz", { cache: "no-store" }).then(function (r) {
      if (r.ok) {
        banner.remove();
        return null;
      }
      return r.text().then(function (t) {
        banner.querySelector(".sync-reason").textContent = "(" + t.trim() + ")";
        setTimeout(pollSync, 1000);
      });
    }).catch(function () { setTimeout(pollSync, 2000); });
  }

  // ---- pod details on hover, focus or tap ---------------------------------------------

  function describe(pod) {
    const [ns, name] = pod.dataset.pod.split("/");
    const box = pod.closest("section");
    const rows = [
      ["namespace", ns],
      ["name", name],
      ["status", pod.dataset.status],
      ["ready", pod.dataset.ready],
      ["restarts", pod.dataset.restarts || "0"],
      ["age", pod.dataset.created ? ageText(Date.now() - Date.parse(pod.dataset.created)) : "?"],
      ["node", box && box.dataset.node !== undefined ? box.dataset.node : "(unscheduled)"],
      ["owner", pod.dataset.owner || "(none)"],
      ["requests", "cpu " + cpuText(Number(pod.dataset.cpu) || 0) + ", memory " + bytesText(Number(pod.dataset.mem) || 0)],
    ];
    const dl = document.createElement("dl");
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      dl.append(dt, dd);
    }
    return dl;
  }

  function showDetail(pod) {
    if (!detail) return;
    detail.replaceChildren(describe(pod));
    detail.className = "detail " + (pod.className.match(/\bs-\w+/) || [""])[0];
    const r = board.hoverRect || pod.getBoundingClientRect();
    const w = 320;
    const left = Math.min(window.scrollX + r.left, window.scrollX + document.documentElement.clientWidth - w - 8);
    detail.style.left = Math.max(8, left) + "px";
    detail.style.top = (window.scrollY + r.bottom + 6) + "px";
    pod.setAttribute("aria-describedby", "detail");
  }

  function hideDetail() {
    if (detail) detail.classList.add("hidden");
  }

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

  // ---- start ----------------------------------------------------------------------------

  if (root.hasAttribute("data-error")) return;
  // A page kept in the back/forward cache must not hold its stream open: browsers allow
  // six connections per server, and parked streams would starve the next page.
  window.addEventListener("pagehide", function () {
    if (source) source.close();
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) connect();
  });
  window.addEventListener("resize", function () {
    // A smaller screen may need smaller pods, a bigger one may allow larger: start over.
    if (kiosk) setDensity(0);
    board.stale = true;
    tooBig = { level: -1, pods: 0 };
    lastFit = 0;
    lastFitPods = -1;
    countsDue = true;
    schedule();
  });
  arrange();
  schedule();
  tick();
  setInterval(tick, 1000);
  pollSync();
  connect();
})();
