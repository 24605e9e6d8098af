// podwall: keeps the server-rendered wall live by applying /events fragments.
// Every fragment is HTML rendered by the server's templates; this script only places it.
"use strict";

(function () {
  const root = document.getElementById("wall-root");
  const wall = document.getElementById("wall");
  if (!root || !wall) return;
  const conn = document.getElementById("conn");
  const placeholder = document.getElementById("node-placeholder");
  let source = null;
  let countsQueued = false;
  // The API server's health as last reported; the indicator shows it once connected.
  let apiStatus = conn
    ? { apiserver: conn.classList[1] || "ok", message: conn.querySelector(".conn-msg").textContent }
    : { apiserver: "ok", message: "" };

  function fromHtml(html) {
    const t = document.createElement("template");
    t.innerHTML = html;
    return t.content.firstElementChild;
  }

  function setConn(state, text, message) {
    if (!conn) return;
    conn.className = "conn " + state;
    conn.querySelector(".conn-text").textContent = text;
    conn.querySelector(".conn-msg").textContent = message || "";
  }

  function nodeBox(id) {
    let box = document.getElementById(id);
    if (box) return box;
    // A pod on a node the wall has no details for: a placeholder box keeps it visible.
    const name = id.slice("node/".length);
    box = placeholder.content.firstElementChild.cloneNode(true);
    box.id = id;
    box.dataset.node = name;
    box.querySelector(".node-name").textContent = name;
    insertSorted(wall.querySelector(".nodes"), box, name);
    return box;
  }

  function insertSorted(container, box, name) {
    for (const other of container.children) {
      if (other.dataset.node > name) {
        container.insertBefore(box, other);
        return;
      }
    }
    container.appendChild(box);
  }

  function dropIfEmptyPlaceholder(box) {
    if (box && box.dataset.node !== undefined && box.querySelector(".node-head.unavailable") &&
        !box.querySelector("[data-pod]")) {
      box.remove();
    }
  }

  function upsertPod(d) {
    const el = fromHtml(d.html);
    const parent = d.parent === "unscheduled" ? document.getElementById("unscheduled") : nodeBox(d.parent);
    const pods = parent.querySelector(".pods");
    const old = document.getElementById(d.id);
    if (old && old.parentNode === pods) {
      old.replaceWith(el);
      return;
    }
    const oldBox = old ? old.closest("section") : null;
    if (old) old.remove();
    dropIfEmptyPlaceholder(oldBox);
    pods.appendChild(el);
  }

  function deletePod(d) {
    const old = document.getElementById(d.id);
    if (!old) return;
    const box = old.closest("section");
    old.remove();
    dropIfEmptyPlaceholder(box);
  }

  function upsertNode(d) {
    const head = fromHtml(d.html);
    const box = document.getElementById(d.id);
    if (box) {
      box.querySelector(".node-head").replaceWith(head);
      return;
    }
    const name = d.id.slice("node/".length);
    const fresh = placeholder.content.firstElementChild.cloneNode(true);
    fresh.id = d.id;
    fresh.dataset.node = name;
    fresh.querySelector(".node-head").replaceWith(head);
    insertSorted(wall.querySelector(".nodes"), fresh, name);
  }

  function deleteNode(d) {
    const box = document.getElementById(d.id);
    if (!box) return;
    if (box.querySelector("[data-pod]")) {
      box.querySelector(".node-head").replaceWith(fromHtml(d.html));
    } else {
      box.remove();
    }
  }

  function applied(id) {
    if (id) root.dataset.seq = id;
    if (!countsQueued) {
      countsQueued = true;
      requestAnimationFrame(updateCounts);
    }
  }

  function updateCounts() {
    countsQueued = false;
    for (const box of wall.querySelectorAll("section")) {
      const n = box.querySelector(".node-count .n");
      if (n) n.textContent = box.querySelectorAll("[data-pod]").length;
    }
    const pods = wall.querySelectorAll("[data-pod]");
    document.getElementById("count-nodes").textContent =
      wall.querySelectorAll(".nodes > [data-node] > .node-head:not(.unavailable)").length;
    document.getElementById("count-pods").textContent = pods.length;
    const by = new Map();
    for (const p of pods) {
      const s = p.dataset.status;
      const entry = by.get(s) || { n: 0, cls: p.className.replace(/.*\bs-(\w+).*/, "$1") };
      entry.n += 1;
      by.set(s, entry);
    }
    const counts = document.getElementById("counts");
    for (const old of counts.querySelectorAll("[data-count-status]")) old.remove();
    const sorted = Array.from(by.entries()).sort((a, b) => b[1].n - a[1].n || (a[0] < b[0] ? -1 : 1));
    for (const [status, e] of sorted) {
      const span = document.createElement("span");
      span.className = "count s-" + e.cls;
      span.dataset.countStatus = status;
      const b = document.createElement("b");
      b.textContent = e.n;
      span.append(b, " " + status);
      counts.appendChild(span);
    }
  }

  function on(type, handler) {
    source.addEventListener(type, function (ev) {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      try {
        handler(data);
      } catch (e) {
        // The page no longer matches the stream: start over from a fresh reset.
        source.close();
        root.dataset.seq = "";
        connect();
        return;
      }
      applied(ev.lastEventId);
    });
  }

  function showStatus(s) {
    apiStatus = s;
    if (s.apiserver === "ok") setConn("ok", "live", "");
    else setConn(s.apiserver, "apiserver " + s.apiserver, s.message);
  }

  function connect() {
    const params = new URLSearchParams(location.search);
    params.set("lastEventId", root.dataset.seq);
    source = new EventSource("/events?" + params.toString());
    source.onopen = function () { showStatus(apiStatus); };
    source.onerror = function () {
      setConn("reconnecting", "reconnecting…", "");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. a 4xx/5xx): start over from the last applied event.
        setTimeout(connect, 3000);
      }
    };
    on("reset", function (d) {
      wall.innerHTML = d.html;
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

  connect();
})();
