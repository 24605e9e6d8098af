// podwall: the page's stream (/events) and what the page says about its connections: the
// indicator (live, apiserver trouble, reconnecting, signed out) and the banners (API
// server trouble, disconnected, signed out, first sync).

import { AUTH_RETRY_MS } from "./constants.mjs";
import { clearQueue, enqueue, onBroken, recount } from "./scheduling.mjs";
import { remove, replaceWall, upsert } from "./placement.mjs";
import { replaceWarnings, showEvents } from "./warnings.mjs";
import { forgetFit } from "./fit.mjs";
import { showAttention } from "./attention.mjs";

const root = document.getElementById("wall-root");
const conn = document.getElementById("conn");
const apiBanner = document.getElementById("api-banner");
const staleBanner = document.getElementById("stale-banner");
const authBanner = document.getElementById("auth-banner");

let source = null;
// The API server's health as last reported; the indicator shows it once connected.
let apiStatus = conn
  ? { apiserver: conn.classList[1] || "ok", message: conn.querySelector(".conn-msg").textContent }
  : { apiserver: "ok", message: "" };

function show(el, on) {
  if (el) el.classList.toggle("hidden", !on);
}

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

/** The page lost its stream: its data is stale. */
export function isStale() {
  return root.classList.contains("stale");
}

function setSignedOut(out) {
  show(authBanner, out);
  if (out) setConn("error", "signed out", "");
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

function reset(d) {
  replaceWall(d.html);
  recount();
  forgetFit();
  if (d.apiserver) showStatus(d.apiserver);
  replaceWarnings(d.warnings, d.events);
}

function on(type, handler) {
  source.addEventListener(type, function (ev) {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch (e) {
      return;
    }
    enqueue(type, handler, data, ev.lastEventId);
  });
}

/** Opens the stream from the last applied event (data-seq). */
export function connect() {
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
  on("reset", reset);
  on("upsert", upsert);
  on("delete", remove);
  on("status", showStatus);
  on("events", showEvents);
  // The attention state is not a change of the cluster: shown at once, not queued.
  source.addEventListener("attention", function (ev) {
    try {
      showAttention(JSON.parse(ev.data));
    } catch (e) {
      // A malformed frame changes nothing.
    }
  });
  // This screen's token was removed or changed (or its scope): the server ended the
  // stream. Revoked: say "signed out" and stop; changed: load the page with the new scope.
  source.addEventListener("signed-out", function (ev) {
    let reason = "revoked";
    try {
      reason = JSON.parse(ev.data).reason;
    } catch (e) {
      // Treated as revoked.
    }
    source.close();
    setStale(true);
    if (reason === "changed") {
      setTimeout(function () { location.reload(); }, 500);
      return;
    }
    setSignedOut(true);
    checkAuth(function () { location.reload(); });
  });
}

/** Pauses live updates (the scrubber shows the past): the stream closes, queued events
 * are dropped, and the indicator says so. */
export function pause() {
  if (source) source.close();
  source = null;
  clearQueue();
  setStale(false);
  setConn("paused", "paused", "");
}

// Starts over from a fresh reset.
function restart() {
  if (source) source.close();
  clearQueue();
  root.dataset.seq = "";
  connect();
}
onBroken(restart);

/** A page kept in the back/forward cache must not hold its stream open: browsers allow six
 * connections per server, and parked streams would starve the next page. */
export function closeWhenParked() {
  window.addEventListener("pagehide", function () {
    if (source) source.close();
  });
  window.addEventListener("pageshow", function (e) {
    if (e.persisted && root.dataset.at === undefined) connect();
  });
}

/** While the server still lists a big cluster: the first-sync banner names what it waits
 * for (polling /readyz) and goes when the first sync is complete. */
export function pollSync() {
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
