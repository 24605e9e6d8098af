// podwall: numbers and times for people, for the wall and the overlay alike. cpuText and
// bytesText are the server's `format::cpu` and `format::bytes` (src/render/format.rs) written again, in integer
// arithmetic, so a number reads the same in a node header rendered by the server, in one
// updated by the page and in the overlay's rows; tests/wall/format_agreement.rs compares them
// over a table of values. Exact for every count below 2^53 (bytes: for every count a JS
// number holds exactly).

/** Millicores: "250m" below one core, else cores with at most one decimal ("3.9", "4"). */
export function cpuText(millis) {
  if (millis < 1000) return millis + "m";
  const rounded = millis + 50;
  const tenths = (rounded - (rounded % 100)) / 100;
  const frac = tenths % 10;
  const whole = (tenths - frac) / 10;
  return frac === 0 ? String(whole) : whole + "." + frac;
}

const UNITS = ["", "Ki", "Mi", "Gi", "Ti"];

/** Bytes in binary units: whole units when exact or at least 100, else one decimal
 * ("64Mi", "1.5Gi", "16Gi", "120Mi"). */
export function bytesText(bytes) {
  let unit = 0;
  let scaled = bytes;
  while (unit + 1 < UNITS.length && scaled >= 1024) {
    scaled = Math.floor(scaled / 1024);
    unit += 1;
  }
  // A power of two: dividing by it is exact for any number a JS number holds.
  const divisor = Math.pow(1024, unit);
  if (bytes % divisor === 0 || scaled >= 100) return Math.floor(bytes / divisor) + UNITS[unit];
  // Here bytes < 100 × 1024^unit, so bytes × 10 stays exact.
  const tenths = Math.floor((bytes * 10 + divisor / 2) / divisor);
  const frac = tenths % 10;
  return (tenths - frac) / 10 + "." + frac + UNITS[unit];
}

/** A duration in its largest whole unit: "42s", "5m", "3h", "2d". */
export function ageText(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}

/** A moment's time of day in the browser's time zone ("11:42:00"), as every clock of the
 * page shows it. */
export function clockText(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
