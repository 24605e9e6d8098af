// podwall: drawing one node box of the board (see board.mjs) into its cell: geometry,
// colours, pixels and lines. Stateless but for a colour probe: every function takes the
// board's layout `b` (scale, cellWidth, perRow, rows, colours, font, nameWidths).

import { BOARD, BOARD_COLOURS, NOTREADY_TINT, STATUS_CLASSES, FALLBACK_CLASS } from "./constants.mjs";
import { podInfo } from "./counts.mjs";

// A CSS colour as a pixel of a Uint32Array over ImageData (RGBA bytes, little-endian).
const probe = document.createElement("canvas").getContext("2d", { willReadFrequently: true });

function pixel(color) {
  probe.clearRect(0, 0, 1, 1);
  probe.fillStyle = color;
  probe.fillRect(0, 0, 1, 1);
  const d = probe.getImageData(0, 0, 1, 1).data;
  return ((d[3] << 24) | (d[2] << 16) | (d[1] << 8) | d[0]) >>> 0;
}

// `share` of pixel a over pixel b, as a CSS colour.
function mix(a, b, share) {
  const channel = function (shift) {
    return Math.round(((a >>> shift) & 255) * share + ((b >>> shift) & 255) * (1 - share));
  };
  return "rgb(" + channel(0) + "," + channel(8) + "," + channel(16) + ")";
}

/** The board's colours from wall.css's custom properties: CSS strings by name, and
 * `pixels` by name (the status classes, the board's own, and `tint` for NotReady). */
export function readColours(style) {
  const c = { pixels: {} };
  for (const name of BOARD_COLOURS.concat(STATUS_CLASSES)) {
    c[name] = style.getPropertyValue("--" + name).trim();
    c.pixels[name] = pixel(c[name]);
  }
  c.pixels.tint = pixel(mix(c.pixels.bad, c.pixels.panel, NOTREADY_TINT));
  return c;
}

/** A box's height (CSS pixels) with `pods` pods. */
export function boxHeight(b, pods) {
  const rows = Math.ceil(pods / b.perRow);
  const podsHeight = rows ? rows * (BOARD.pod + BOARD.podGap) - BOARD.podGap : BOARD.pod;
  return 2 * BOARD.border + BOARD.padTop + BOARD.name + podsHeight + BOARD.padBottom;
}

/** A column's left edge in its row (CSS pixels). */
function cellLeft(b, col) {
  return Math.round(col * (b.cellWidth + BOARD.gap));
}

/** A column's width (CSS pixels). */
function cellSpan(b, col) {
  return Math.round((col + 1) * (b.cellWidth + BOARD.gap) - BOARD.gap) - cellLeft(b, col);
}

/** A cell's place in its row's canvas (canvas pixels). */
export function cellRect(b, cell) {
  const s = b.scale;
  const row = b.rows[cell.row];
  const x = Math.round(cellLeft(b, cell.col) * s);
  return { x: x, w: Math.min(row.canvas.width - x, Math.round(cellSpan(b, cell.col) * s)), h: row.canvas.height };
}

/**
 * Writes a box's background and pods as pixels into `px`, an image of canvas pixels
 * starting at column `ox` of the row, `stride` pixels wide: twenty thousand fillRect
 * calls cost ~40 ms, the pixels ~2 ms.
 */
export function paintPixels(b, box, cell, px, ox, stride) {
  const c = b.colours.pixels;
  const s = b.scale;
  const rows = px.length / stride;
  const fill = function (x, y, w, h, color) {
    const from = Math.max(0, x - ox);
    const to = Math.min(stride, x - ox + w);
    for (let j = Math.max(0, y); j < Math.min(rows, y + h); j++) px.fill(color, j * stride + from, j * stride + to);
  };
  const r = cellRect(b, cell);
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
  const left = cellLeft(b, cell.col) + BOARD.border + BOARD.padX;
  const top = BOARD.border + BOARD.padTop + BOARD.name;
  const pods = cell.pods;
  for (let i = 0; i < pods.length; i++) {
    const p = pods[i];
    const x = Math.round((left + (i % b.perRow) * step) * s);
    const y = Math.round((top + Math.floor(i / b.perRow) * step) * s);
    const cls = p.classList;
    if (cls.contains("gone")) {
      // A deleted pod, fading: an empty outline for a moment.
      fill(x, y, size, size, c.muted);
      fill(x + one, y + one, size - 2 * one, size - 2 * one, bg);
      continue;
    }
    if (cls.contains("pulse")) fill(x - one, y - one, size + 2 * one, size + 2 * one, c.text);
    const info = podInfo(p);
    fill(x, y, size, size, c[info.cls] || c[FALLBACK_CLASS]);
    if (info.cls === "done" && size >= 3) {
      // Completed is round at every size: at three pixels, a square without corners.
      const corner = cls.contains("pulse") ? c.text : bg;
      for (const [cx, cy] of [[0, 0], [size - one, 0], [0, size - one], [size - one, size - one]]) {
        fill(x + cx, y + cy, one, one, corner);
      }
    }
  }
}

/** Draws a box's frame and name over its pixels. */
export function paintLines(b, box, cell) {
  const ctx = b.rows[cell.row].ctx;
  const c = b.colours;
  const s = b.scale;
  const x = cellLeft(b, cell.col);
  const w = cellSpan(b, cell.col);
  const h = b.rows[cell.row].h;
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
  ctx.font = b.font;
  ctx.textBaseline = "top";
  ctx.fillStyle = c.text;
  let nameWidth = b.nameWidths.get(name);
  if (nameWidth === undefined) {
    nameWidth = ctx.measureText(name).width;
    b.nameWidths.set(name, nameWidth);
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

/**
 * The pod drawn at (x, y) CSS pixels of row `i`'s canvas, and where its block is drawn
 * (CSS pixels of that canvas): { pod, left, bottom }, or null.
 */
export function podAt(b, i, x, y) {
  const col = Math.floor(x / (b.cellWidth + BOARD.gap));
  const box = b.rows[i].boxes[col];
  const cell = box && b.cells.get(box);
  if (!cell) return null;
  const step = BOARD.pod + BOARD.podGap;
  const left = cellLeft(b, col) + BOARD.border + BOARD.padX;
  const top = BOARD.border + BOARD.padTop + BOARD.name;
  const pc = Math.floor((x - left) / step);
  const pr = Math.floor((y - top) / step);
  if (pc < 0 || pc >= b.perRow || pr < 0) return null;
  const p = cell.pods[pr * b.perRow + pc];
  if (!p || !p.hasAttribute("data-pod")) return null;
  return { pod: p, left: left + pc * step, bottom: top + pr * step + BOARD.pod };
}
