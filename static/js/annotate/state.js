/* The annotation page's shared state: the server's config (passed with json_script), the page
   elements, the project's labels with their lookups, and the mutable session state. Every other
   module reads and writes through these exports; ES modules cannot reassign another module's
   bindings, so the mutable part lives on one object. */

export const config = JSON.parse(document.getElementById("annotate-config").textContent);

export const $ = (id) => document.getElementById(id);

export const els = {
  startPanel: $("start-panel"), startBtn: $("start-btn"), startMessage: $("start-message"),
  itemPanel: $("item-panel"), itemText: $("item-text"), itemSource: $("item-source"),
  itemPosition: $("item-position"), itemAnswered: $("item-answered"),
  donePanel: $("done-panel"), doneMessage: $("done-message"), nextBtn: $("next-batch-btn"),
  filter: $("label-filter"), buttons: $("label-buttons"), coarseStep: $("coarse-step"),
  coarseName: $("coarse-name"), coarseOnly: $("coarse-only"), coarseBack: $("coarse-back"),
  noneBtn: $("none-btn"), skipBtn: $("skip-btn"), undoBtn: $("undo-btn"),
  skipForm: $("skip-form"), skipOther: $("skip-other"), skipCancel: $("skip-cancel"),
  batchProgress: $("batch-progress"), batchCount: $("batch-count"),
  waveProgress: $("wave-progress"), waveCount: $("wave-count"),
  saveStatus: $("save-status"), announce: $("announce"), notice: $("notice"), keysHelp: $("keys-help"),
  itemMeta: $("item-metadata"), suggestion: $("suggestion"), suggestionLabel: $("suggestion-label"),
  suggestionProb: $("suggestion-prob"), reopenBanner: $("reopen-banner"), reopenWas: $("reopen-was"),
  reopenClear: $("reopen-clear"), reopenBack: $("reopen-back"),
  historyList: $("history-list"), historyEmpty: $("history-empty"), summary: $("batch-summary"),
};

// --- labels (fixed for the page's lifetime) ---------------------------------------------------
export const labels = config.labels;
export const byId = new Map(labels.map((l) => [l.id, l]));
export const children = new Map();
for (const l of labels) {
  if (l.parent !== null) {
    if (!children.has(l.parent)) children.set(l.parent, []);
    children.get(l.parent).push(l);
  }
}
// The Other label is the first top-level one ticked Other, in the server's order (the page's
// None-of-these button and ensure_other_label take the same one; a project has one since
// label_one_other). Only that one leaves the label buttons: any other label keeps its button.
export const otherLabel = labels.find((l) => l.parent === null && l.is_other) || null;
export const topLevel = labels.filter((l) => l.parent === null && l !== otherLabel);
// Hotkeys compare case-insensitively: "A" with Shift or Caps Lock is still the "a" label.
export const key = (k) => (k || "").toLowerCase();
export const fullName = (l) =>
  (l.parent !== null && byId.has(l.parent) ? byId.get(l.parent).name + " › " + l.name : l.name);
export const noneHotkey = key(config.noneKey || (otherLabel ? otherLabel.hotkey : (config.builtinOther ? config.builtinOther.hotkey : "")));
// "None of these" only gets its key when no real label already uses it.
export const noneHotkeyFree = noneHotkey && !labels.some((l) => key(l.hotkey) === noneHotkey && l !== otherLabel);

// --- session state --------------------------------------------------------------------------
export const state = {
  items: [],          // the leased batch, each with .answer = {kind, labelId, reason} once answered
  index: 0,
  coarse: null,       // the coarse label whose fine labels are showing
  progress: config.progress,
  leaseNote: "",      // why the last lease came back empty
  started: false,     // a batch was loaded (then an empty item list means "batch done")
  busy: false,        // a lease round trip is under way (keys typed meanwhile wait in pendingKeys)
  pendingKeys: [],    // keys typed while busy, applied in order once it ends
  history: [],        // this session's answers, newest first (see history.js)
  reopen: null,       // the history entry reopened for a change, or null
};

export function current() {
  return state.items[state.index] || null;
}

// The item on screen: a reopened answer's item, else the current one.
export function shown() {
  return state.reopen || current();
}
