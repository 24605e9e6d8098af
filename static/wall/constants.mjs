// podwall: every constant of the page's script, in one place. What the server decides
// (the pod counts at which the page steps to smaller blocks, the status classes, the
// page's layout options) is read from data-* attributes on <html>, rendered by the server
// (src/render/mod.rs) from the same constants it uses itself; the rest is the script's own.

const html = document.documentElement;

// ---- from the server ------------------------------------------------------------------

// data-density-steps="large 400 normal 1500 small 5000 dots": a size, the most pods it is
// chosen for, the next size, …, and the size for any count above the last number.
const steps = (html.dataset.densitySteps || "").split(" ").filter(Boolean);
/** The sizes the server may start a page with, largest first. */
export const SERVER_DENSITIES = steps.filter(function (_, i) { return i % 2 === 0; });
/** The most pods each size but the last is chosen for. */
export const DENSITY_UP_TO = steps.filter(function (_, i) { return i % 2 === 1; }).map(Number);
/** The status classes (`pod s-<class>`), as the server knows them (data-status-classes),
 * its catch-all last. */
export const STATUS_CLASSES = (html.dataset.statusClasses || "").split(" ").filter(Boolean);
/** The class of a pod block that names none: the server's catch-all. */
export const FALLBACK_CLASS = STATUS_CLASSES[STATUS_CLASSES.length - 1] || "";

/** How long a restart counts as recent, in milliseconds (data-recent-seconds; the server's
 * `RECENT`): the wall marks such restarts, and trouble.mjs fades the mark when it ages. */
export const RECENT_MS = (Number(html.dataset.recentSeconds) || 3600) * 1000;

// The page's layout options (docs/ui.md, "Configuring a wall by its URL").
export const GROUP = html.dataset.group || "";
export const SORT = html.dataset.sort || "name";
export const COMPACT = html.hasAttribute("data-compact");
export const KIOSK = html.classList.contains("kiosk");

// ---- sizes ------------------------------------------------------------------------------

/** Sizes only a kiosk wall shrinks to, after the server's (wall.css draws them). */
const KIOSK_DENSITIES = ["tiny", "micro"];
/** Every size, largest first. */
export const DENSITIES = SERVER_DENSITIES.concat(KIOSK_DENSITIES);
/** The size a kiosk wall is drawn on canvases at (the board). */
export const BOARD_DENSITY = "micro";
/** Sizes at which wall.css hides a node header's usage rows. */
export const USAGE_HIDDEN_AT = KIOSK_DENSITIES;

// ---- timing -----------------------------------------------------------------------------

/** How often a problems=1 page asks for its folded count (seconds; a divisor of 60). */
export const FOLDED_EVERY_S = 5;

// As long as wall.css's `pulse` and `gone` animations.
export const FADE_MS = 700;
export const PULSE_MS = 1200;
/** While signed out, how often the page asks again whether its token works. */
export const AUTH_RETRY_MS = 30000;
/** Header recounts at most this often… */
export const COUNTS_MS = 500;
/** …in a frame with time left, but never further apart than this: a backlog that fills
 * every frame must not freeze the header. */
export const COUNTS_MAX_MS = 2000;
/** Ghost cells (see ghosts.mjs) are closed when the oldest is this old… */
export const COMPACT_MS = 30000;
/** …or when they are more than this share of the cells. */
export const COMPACT_SHARE = 0.05;

// ---- fitting a kiosk wall to its screen (see fit.mjs) -----------------------------------

/** A kiosk wall fits itself to the screen again this often (new nodes, slow drift)… */
export const REFIT_MS = 10000;
/** …and after a recount that found the wall grown or shrunk by this share of its pods
 * (at least FIT_CHANGE_MIN), at most every FIT_MIN_MS. */
export const FIT_CHANGE_SHARE = 0.02;
export const FIT_CHANGE_MIN = 10;
export const FIT_MIN_MS = 2000;
/** A bigger size is tried when the wall fills less than this share of the screen… */
export const ROOM_SHARE = 0.6;
/** …unless it overflowed at that size with more than this share of today's pods. */
export const TOO_BIG_SHARE = 0.95;

// ---- the frame budget (see scheduling.mjs) ----------------------------------------------

/** Above this many pods a DOM wall takes its changes in fewer frames… */
export const BIG_WALL = 5000;
/** …at least this far apart after a frame that emptied the queue. */
export const BIG_WALL_GAP_MS = 250;
/** Script time a DOM wall's frame spends applying changes. */
export const EVENTS_MS = 8;
/** Script time a board frame spends applying changes… */
export const BOARD_EVENTS_MS = 5;
/** …and drawing, from the frame's start. */
export const FRAME_MS = 10;
/** Fragments parsed in one go. */
export const PARSE_AHEAD = 32;

// ---- the board's geometry, as the micro CSS lays out boxes (CSS pixels) -----------------

export const BOARD = {
  minCell: 58, gap: 2, border: 1, padX: 2, padTop: 1, padBottom: 2,
  name: 9, pod: 3, podGap: 1,
};
/** The colours the board reads from wall.css's custom properties, besides the status classes. */
export const BOARD_COLOURS = ["panel", "line", "text", "muted"];
/** The NotReady tint of wall.css: this share of --bad over --panel. */
export const NOTREADY_TINT = 0.16;

// The scrubber moves a playing wall on every SCRUB_TICK_MS (by that times its speed).
export const SCRUB_TICK_MS = 1000;
