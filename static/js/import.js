// Polls an import's progress JSON and fills the page. User text (file names, error messages)
// only ever goes through textContent.
(function () {
  "use strict";
  const box = document.getElementById("import-status");
  if (!box) return;
  const url = box.dataset.url;
  const finished = (state) => state === "done" || state === "failed";

  function setText(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = String(value);
  }

  function renderErrors(errors) {
    const body = document.querySelector("#import-errors tbody");
    body.replaceChildren();
    if (!errors.length) {
      const row = body.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 4;
      cell.textContent = "None.";
      row.className = "muted";
      return;
    }
    for (const e of errors) {
      const row = body.insertRow();
      for (const value of [e.file, e.line ?? "—", e.field ?? "—", e.message]) {
        row.insertCell().textContent = String(value);
      }
    }
  }

  async function poll() {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      data = await response.json();
    } catch (err) {
      setText("import-outcome", "Could not read the progress (" + err.message + "); retrying…");
      setTimeout(poll, 3000);
      return;
    }
    document.getElementById("import-progress").value = data.progress;
    setText("import-state", data.state);
    setText("rows-total", data.rows_total);
    setText("rows-imported", data.rows_imported);
    setText("rows-rejected", data.rows_rejected);
    setText("exact-duplicates", data.exact_duplicates);
    setText("near-duplicates", data.near_duplicates);
    // Another import into the project runs first: the server says which (empty once this one starts).
    const waiting = document.getElementById("import-waiting");
    if (waiting) {
      waiting.hidden = !data.waiting;
      waiting.textContent = data.waiting ? data.waiting.charAt(0).toUpperCase() + data.waiting.slice(1) + "." : "";
    }
    if (finished(data.state)) {
      renderErrors(data.errors || []);
      // Row errors have a line; a failure of the whole upload (storage, size, an interruption) has none.
      const rowErrors = (data.errors || []).some((e) => e.line !== null && e.line !== undefined);
      if (data.state === "failed" && rowErrors) {
        setText("import-outcome", "Nothing was imported: fix the rows below and upload again, or import with “set the invalid ones aside”.");
      } else if (data.state === "failed") {
        setText("import-outcome", "Nothing was imported: see the reason below.");
      } else {
        setText("import-outcome", data.rows_rejected ? "The valid rows were imported; the rows below were set aside." : "Done.");
      }
      if (box.dataset.state !== data.state) window.location.reload(); // shows the rejects link
      return;
    }
    setTimeout(poll, 1000);
  }

  if (!finished(box.dataset.state)) poll();
})();
