// podwall: the board, the smallest kiosk size drawn on canvases.
//
// At the micro size a kiosk wall is a thousand node boxes of 3-pixel pods, and every frame
// that changed one made Chromium walk all of them: 20,000 elements to lay out, paint and
// layerize, 1,000 compositor layers to commit, 50–60 ms of CPU a frame at 20,000 pods
// (benches/page.rs). So at that size the node boxes are drawn instead, one canvas per row
// of boxes, and a change redraws its box's cell. The boxes stay in the DOM, not rendered,
// as the script's model and as the markers tools read. The geometry follows the micro CSS
// (constants.mjs, BOARD); board-paint.mjs draws a cell.

import { BOARD, BOARD_DENSITY, KIOSK } from "./constants.mjs";
import { boxHeight, cellRect, paintLines, paintPixels, podAt, readColours } from "./board-paint.mjs";
import { anchored, hideDetail } from "./details.mjs";

const html = document.documentElement;
const wall = document.getElementById("wall");

// The board's layout, also what board-paint.mjs draws by.
const b = {
  on: false,
  // Boxes came, went or moved: lay every row out again.
  stale: true,
  el: null,
  colours: null,
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
};
// Boxes to draw again: changed, a pulse or fade ended, or left over when the last frame
// ran out of time.
const redrawn = new Set();
// The pod last hovered on the board.
let hovered = null;

/** The board is drawn (a kiosk wall at the micro size). */
export function isOn() {
  return b.on;
}

/** Boxes came, went or moved: every row is laid out again at the next draw. */
export function invalidate() {
  b.stale = true;
}

/** Draws `box` again at the next draw (nothing while the board is off). */
export function redraw(box) {
  if (b.on && box) redrawn.add(box);
}

/** Boxes or rows wait to be drawn. */
export function busy() {
  return redrawn.size > 0 || b.pending.length > 0;
}

/** Turns the board on or off with the density; laid out at once, since fit measures it. */
export function follow() {
  const want = KIOSK && html.dataset.density === BOARD_DENSITY;
  if (want === b.on) return;
  b.on = want;
  if (!want) {
    // Back to boxes: the canvases go (about 4 bytes a pixel of the wall).
    for (const row of b.rows) row.canvas.remove();
    b.rows = [];
    b.pending = [];
    b.cells = new Map();
    redrawn.clear();
    return;
  }
  if (!b.el) {
    b.el = document.createElement("div");
    b.el.id = "wall-board";
    b.el.setAttribute("aria-hidden", "true");
    b.el.addEventListener("mousemove", hover);
    b.el.addEventListener("mouseleave", hideDetail);
    wall.before(b.el);
  }
  const style = getComputedStyle(html);
  b.colours = readColours(style);
  b.font = "600 " + BOARD.name + "px " + style.fontFamily;
  b.stale = true;
  layout();
  // At once, as fit measures the board's height next.
  layoutRows();
}

// Lays every row out again: columns like the micro CSS grid (auto-fill, at least 58 px).
function layout() {
  const width = b.el.clientWidth || wall.clientWidth;
  b.scale = (window.devicePixelRatio || 1) * (b.el.currentCSSZoom || 1);
  b.cols = Math.max(1, Math.floor((width + BOARD.gap) / (BOARD.minCell + BOARD.gap)));
  b.cellWidth = (width - BOARD.gap * (b.cols - 1)) / b.cols;
  const inner = b.cellWidth - 2 * BOARD.border - 2 * BOARD.padX;
  b.perRow = Math.max(1, Math.floor((inner + BOARD.podGap) / (BOARD.pod + BOARD.podGap)));
  b.width = width;
  b.cells = new Map();
  // Names of nodes long gone would pile up over weeks of autoscaling.
  b.nameWidths = new Map();
  b.images = new Map();
  const container = wall.querySelector(".nodes");
  const boxes = container ? Array.from(container.children) : [];
  const count = Math.ceil(boxes.length / b.cols);
  while (b.rows.length > count) b.rows.pop().canvas.remove();
  b.pending = [];
  for (let i = 0; i < count; i++) {
    if (!b.rows[i]) b.rows.push(newRow());
    const row = b.rows[i];
    row.boxes = boxes.slice(i * b.cols, (i + 1) * b.cols);
    row.boxes.forEach(function (box, col) { b.cells.set(box, { row: i, col: col, pods: [] }); });
    b.pending.push(i);
  }
  b.stale = false;
}

// Lays out the rows still waiting, until `deadline` (a performance.now() time; all of
// them without one). Laying out a 1,000-node board at once costs 50–90 ms (a node
// leaving closes its gap: every box after it moves), so the rows are drawn over a few
// frames; until then a row shows what it showed before.
function layoutRows(deadline) {
  while (b.pending.length) {
    rowLayout(b.pending.shift());
    if (deadline !== undefined && performance.now() > deadline) break;
  }
}

function newRow() {
  const canvas = document.createElement("canvas");
  b.el.appendChild(canvas);
  return { canvas: canvas, ctx: canvas.getContext("2d"), boxes: [], h: 0 };
}

// Sizes one row's canvas to its tallest box (rows below it move in the page's layout,
// not on any canvas) and draws its boxes: their pixels as one image, then the lines.
function rowLayout(i) {
  const row = b.rows[i];
  const cells = row.boxes.map(function (box) {
    const cell = b.cells.get(box);
    cell.pods = box.querySelectorAll(".pod");
    return cell;
  });
  let most = 0;
  for (const cell of cells) most = Math.max(most, cell.pods.length);
  row.h = boxHeight(b, most);
  const s = b.scale;
  row.canvas.style.width = b.width + "px";
  row.canvas.style.height = row.h + "px";
  row.canvas.width = Math.round(b.width * s);
  row.canvas.height = Math.round(row.h * s);
  const image = row.ctx.createImageData(row.canvas.width, row.canvas.height);
  const px = new Uint32Array(image.data.buffer);
  row.boxes.forEach(function (box, col) { paintPixels(b, box, cells[col], px, 0, row.canvas.width); });
  row.ctx.putImageData(image, 0, 0);
  row.boxes.forEach(function (box, col) { paintLines(b, box, cells[col]); });
}

/**
 * Redraws the boxes waiting (see redraw) in their cells until `deadline` (at least one
 * box; the rest stay for the next frame), then lays out waiting rows. A box that outgrew
 * its row has that row laid out again; a new node at the end takes the next cell;
 * anything else lays out all rows.
 */
export function draw(deadline) {
  for (const box of redrawn) {
    if (b.stale) break;
    redrawn.delete(box);
    if (!b.cells.has(box) && box.parentNode && box.parentNode.classList.contains("nodes")) append(box);
    const cell = b.cells.get(box);
    // A row waiting for its layout draws all its boxes then.
    if (!cell || b.pending.includes(cell.row)) continue;
    const row = b.rows[cell.row];
    cell.pods = box.querySelectorAll(".pod");
    if (boxHeight(b, cell.pods.length) > row.h) {
      b.pending.push(cell.row);
      continue;
    }
    const r = cellRect(b, cell);
    const image = cellImage(row.ctx, r.w, r.h);
    paintPixels(b, box, cell, image.pixels, r.x, r.w);
    row.ctx.putImageData(image.data, r.x, 0);
    paintLines(b, box, cell);
    if (performance.now() > deadline) break;
  }
  if (b.stale) {
    layout();
    redrawn.clear();
  }
  layoutRows(deadline);
}

// An image the size of a cell, reused (cells come in two widths and a few heights):
// one new image per redrawn box was megabytes a second of garbage.
function cellImage(ctx, w, h) {
  const key = w + "x" + h;
  let image = b.images.get(key);
  if (!image) {
    const data = ctx.createImageData(w, h);
    image = { data: data, pixels: new Uint32Array(data.data.buffer) };
    b.images.set(key, image);
  }
  return image;
}

// A box added after the last one (nodes join with ever higher numbers) takes the next
// cell; one inserted between others moves every box after it: all rows are laid out.
function append(box) {
  const last = b.rows.length - 1;
  const lastRow = b.rows[last];
  const after = lastRow ? lastRow.boxes[lastRow.boxes.length - 1] : null;
  if (after ? box.previousElementSibling !== after : box.previousElementSibling !== null) {
    b.stale = true;
    return;
  }
  if (lastRow && lastRow.boxes.length < b.cols) {
    lastRow.boxes.push(box);
    b.cells.set(box, { row: last, col: lastRow.boxes.length - 1, pods: [] });
    return;
  }
  b.rows.push(newRow());
  b.rows[last + 1].boxes = [box];
  b.cells.set(box, { row: last + 1, col: 0, pods: [] });
  rowLayout(last + 1);
}

// Hovering a drawn pod shows its details as hovering its block would: the same event on
// the (unrendered) block, anchored where the block is drawn, so every listener (the
// overlay's rows, tools) sees it as anywhere else.
function hover(e) {
  const i = b.rows.findIndex(function (row) { return row.canvas === e.target; });
  const r = i < 0 ? null : e.target.getBoundingClientRect();
  const zoom = b.el.currentCSSZoom || 1;
  const hit = r && podAt(b, i, (e.clientX - r.left) / zoom, (e.clientY - r.top) / zoom);
  if (!hit) {
    hovered = null;
    hideDetail();
    return;
  }
  if (hit.pod === hovered) return;
  hovered = hit.pod;
  const rect = { left: r.left + hit.left * zoom, bottom: r.top + hit.bottom * zoom };
  anchored(rect, function () {
    hit.pod.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
  });
}
