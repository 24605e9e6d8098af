// podwall: the server's HTML fragments (/events) into elements. Every fragment is one
// element rendered by the server's templates; the page only places it.

const parser = document.createElement("template");

/** The element of one fragment. */
export function fromHtml(markup) {
  parser.innerHTML = markup;
  return parser.content.firstElementChild;
}

/**
 * Parses the fragments of the next `n` queued events from `from` in one go (one parser run
 * for many small fragments costs a fraction of one run each) and leaves each element in
 * its event's `data.el`. If the count of elements does not match, each event parses its
 * own later (`data.el` stays unset).
 */
export function parseAhead(list, from, n) {
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
