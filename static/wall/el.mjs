// podwall: one element, made in one call.

/** A new `tag` element with class `cls` (if any) and text `text` (if given). */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
