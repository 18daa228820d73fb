/* What every dashboard panel shares: how numbers print, which labels are rare, and how a panel
   with nothing to show says so (its section's .empty note instead of an empty chart or table). */

// Column names that hold counts: these print as integers, every other number with 3 decimals.
const COUNT_KEY = /(count|answers|skips|undone|changed|last_24h|support|pairs|items|labeled|^n$|_n$)/;

export function fmt(x, digits) {
  if (x === null || x === undefined) return "—";
  return Number(x).toFixed(digits === undefined ? 3 : digits);
}

// A table cell by its column name.
export function cell(key, v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return COUNT_KEY.test(key) ? String(Math.round(v * 100) / 100) : fmt(v);
  return String(v);
}

export function showEmpty(el, isEmpty) {
  const note = el.closest("section").querySelector(".empty");
  if (note) note.hidden = !isEmpty;
  el.hidden = isEmpty;
}

export function rareNames(data) {
  return new Set(data.labels.filter((l) => l.rare).map((l) => l.name));
}
