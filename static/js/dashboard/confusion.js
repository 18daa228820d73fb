/* The confusion heat map. Up to TOP labels it shows every label; beyond, the TOP labels most
   involved in confusions (off-diagonal counts as true or predicted label), and a choice of 50,
   100 or all of them; the table scrolls inside its card either way, its header and first column stay put. */
import { showEmpty } from "./panels.js";

export const TOP = 25;

// A column past the labels (the coarse fallbacks) is an error of its row's label only.
function errorsPerLabel(matrix) {
  const errors = matrix.map(() => 0);
  matrix.forEach((row, i) => row.forEach((v, j) => {
    if (i !== j) { errors[i] += v; if (j < errors.length) errors[j] += v; }
  }));
  return errors;
}

const escape = (text) => String(text).replace(/[&<>"']/g, (ch) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
                                                                      '"': "&quot;", "'": "&#39;"}[ch]));

// One string for the whole table: a few hundred labels make tens of thousands of cells, which
// the browser parses far faster than it takes them one DOM call at a time. Every name is escaped.
// The extra columns (held-out rows emitted as a coarse label, no class here) come after the labels'.
function render(table, c, keep) {
  const extra = (c.extra_columns || []).map((_, e) => c.classes.length + e);
  const cols = keep.concat(extra);
  let max = 0;
  keep.forEach((i) => cols.forEach((j) => { max = Math.max(max, c.matrix[i][j]); }));
  const names = c.classes.concat(c.extra_columns || []).map(escape);
  // A name too long for its header is cut with an ellipsis; the title holds the whole name.
  const head = "<thead><tr><th>true ↓ / predicted →</th>" + cols.map((j) => '<th class="rot" title="' + names[j] + '"><span>' +
    names[j] + "</span></th>").join("") + "</tr></thead>";
  // Green diagonal (right), red elsewhere (confused); the shade scales with the largest cell shown.
  const rows = keep.map((i) => '<tr><th title="' + names[i] + '">' + names[i] + "</th>" + cols.map((j) => {
    const v = c.matrix[i][j];
    const alpha = max ? v / max : 0;
    const bg = (i === j ? "rgba(21,128,61," : "rgba(185,28,28,") + (0.08 + 0.85 * alpha).toFixed(2) + ")";
    return '<td style="background:' + bg + (alpha > 0.55 ? ";color:#fff" : "") + '" title="' + names[i] + " → " +
      names[j] + ": " + v + '">' + v + "</td>";
  }).join("") + "</tr>").join("");
  table.innerHTML = head + "<tbody>" + rows + "</tbody>";
}

export function confusion(data) {
  const table = document.getElementById("confusion");
  const note = document.getElementById("confusion-note");
  const pick = document.getElementById("confusion-top");
  const c = data.confusion;
  showEmpty(table, !c);
  note.textContent = "";
  pick.hidden = true;
  if (!c) return;
  // Every held-out row is in the matrix: those that fell back to a coarse label in its last column.
  const fallbacks = c.fallbacks ? c.fallbacks + " held-out " + (c.fallbacks === 1 ? "item" : "items") +
    " fell back to a coarse label: column “" + c.extra_columns.join(", ") + "”. " : "";
  note.textContent = fallbacks;
  const all = c.classes.map((_, i) => i);
  if (all.length <= TOP) { render(table, c, all); return; }
  const errors = errorsPerLabel(c.matrix);
  const byErrors = all.slice().sort((a, b) => errors[b] - errors[a] || a - b);
  pick.textContent = "";
  [TOP, 50, 100].filter((n) => n < all.length).concat([all.length]).forEach((n) => {
    const opt = document.createElement("option");
    opt.value = String(n);
    opt.textContent = n === all.length ? "all " + n + " labels" : "the " + n + " most confused labels";
    pick.appendChild(opt);
  });
  const update = () => {
    const n = Number(pick.value);
    render(table, c, byErrors.slice(0, n).sort((a, b) => a - b));
    note.textContent = fallbacks + (n === all.length ? "All " + all.length + " labels."
      : "The " + n + " of " + all.length + " labels most involved in confusions.");
  };
  pick.hidden = false;
  pick.onchange = update;
  update();
}
