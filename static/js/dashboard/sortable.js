/* Click (or Enter on) a column heading to sort a dashboard table by it; again to reverse. Numbers
   sort as numbers, text as text; empty cells ("—") always go last. Works on any table.grid the
   panels fill, whatever columns the server sends, and survives a panel rewriting its header. */

const EMPTY = new Set(["", "—", "n/a"]);

function value(td) {
  const text = (td ? td.textContent : "").trim().replace(/^★\s*/, "");
  if (EMPTY.has(text)) return null;
  const n = Number(text.replace(/%$/, ""));
  return Number.isFinite(n) && /\d/.test(text) ? n : text.toLowerCase();
}

function compare(a, b) {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, {numeric: true});
}

export function sortTable(table, column, ascending) {
  const body = table.tBodies[0];
  if (!body) return;
  const rows = Array.from(body.rows).map((tr, i) => ({tr, i, v: value(tr.cells[column])}));
  rows.sort((x, y) => {
    // empty last in both directions; ties keep their order
    if (x.v === null || y.v === null) return compare(x.v, y.v) || x.i - y.i;
    return (ascending ? compare(x.v, y.v) : compare(y.v, x.v)) || x.i - y.i;
  });
  rows.forEach((r) => body.appendChild(r.tr));
  const head = table.tHead && table.tHead.rows[0];
  if (head) {
    Array.from(head.cells).forEach((th, i) => {
      if (i === column) th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    });
  }
}

function headings(table) {
  const head = table.tHead && table.tHead.rows[0];
  if (!head) return;
  Array.from(head.cells).forEach((th) => {
    th.tabIndex = 0;
    th.classList.add("sortable");
    if (!th.title) th.title = "Sort by " + th.textContent.trim();
  });
}

function onActivate(table, e) {
  const th = e.target.closest("thead th");
  if (!th || !table.contains(th)) return;
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  sortTable(table, th.cellIndex, ascending);
}

export function makeSortable(table) {
  headings(table);
  if (table.dataset.sortable) return;
  table.dataset.sortable = "1";
  table.addEventListener("click", (e) => onActivate(table, e));
  table.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onActivate(table, e); }
  });
}

// Every table.grid under root: sortable, and inside a scrolling wrapper (wide tables scroll
// instead of spilling out of their card; long ones keep their header in view).
export function sortableTables(root) {
  root.querySelectorAll("table.grid").forEach((table) => {
    if (!table.parentElement.classList.contains("table-wrap")) {
      const wrap = document.createElement("div");
      wrap.className = "table-wrap";
      table.parentElement.insertBefore(wrap, table);
      wrap.appendChild(table);
    }
    makeSortable(table);
  });
}
