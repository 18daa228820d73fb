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
  highlightsNote: $("highlights-note"),
  itemMeta: $("item-metadata"), suggestion: $("suggestion"), suggestionLabel: $("suggestion-label"),
  suggestionProb: $("suggestion-prob"), reopenBanner: $("reopen-banner"), reopenWas: $("reopen-was"),
  reopenClear: $("reopen-clear"), reopenBack: $("reopen-back"),
  historyList: $("history-list"), historyEmpty: $("history-empty"), summary: $("batch-summary"),
};

// --- labels ---------------------------------------------------------------------------------
// The server's labels as the page loaded them, replaced in place when a reply brings the current
// ones (stale_labels.js adoptServerLabels). Modules read these bindings at use time (ES module
// exports are live), so after a replacement every button, hotkey and name follows the server's.
export const labels = config.labels.slice();
export const byId = new Map();
export const children = new Map();
// The Other label is the first top-level one ticked Other, in the server's order (the page's
// None-of-these button and ensure_other_label take the same one; a project has one since
// label_one_other). Only that one leaves the label buttons: any other label keeps its button.
export let otherLabel = null;
export let topLevel = [];
// Hotkeys compare case-insensitively: "A" with Shift or Caps Lock is still the "a" label. Lowered
// as the server's hotkey clash check lowers (Python's str.lower(), the same full Unicode mapping):
// "İ" is "i̇", two characters, so a press is judged by oneChar on the key itself, not on this.
export const key = (k) => (k || "").toLowerCase();
// One character as the server counts a hotkey (code points, hotkeys.py): "🎉" is one, though
// JavaScript's length counts its two UTF-16 units; "Enter" or "Shift" is none.
export const oneChar = (k) => typeof k === "string" && k.length > 0 && k.length <= 2 && [...k].length === 1;
export const fullName = (l) =>
  (l.parent !== null && byId.has(l.parent) ? byId.get(l.parent).name + " › " + l.name : l.name);
export let noneHotkey = "";
// "None of these" only gets its key when no real label already uses it.
export let noneHotkeyFree = false;

function indexLabels() {
  byId.clear();
  children.clear();
  for (const l of labels) {
    byId.set(l.id, l);
    if (l.parent !== null) {
      if (!children.has(l.parent)) children.set(l.parent, []);
      children.get(l.parent).push(l);
    }
  }
  otherLabel = labels.find((l) => l.parent === null && l.is_other) || null;
  topLevel = labels.filter((l) => l.parent === null && l !== otherLabel);
  noneHotkey = key(otherLabel ? otherLabel.hotkey
    : (config.noneKey || (config.builtinOther ? config.builtinOther.hotkey : "")));
  noneHotkeyFree = Boolean(noneHotkey) && !labels.some((l) => key(l.hotkey) === noneHotkey && l !== otherLabel);
}
indexLabels();

// How many times the labels were replaced since the page loaded (render.js redraws the panels
// the server drew once when it changes).
export let labelsGeneration = 0;

// The page's labels become `next` (the server's payload, plus any the page keeps disabled).
export function replaceLabels(next) {
  labels.splice(0, labels.length, ...next);
  indexLabels();
  labelsGeneration += 1;
}

// --- session state --------------------------------------------------------------------------
export const state = {
  items: [],          // the leased batch, each with .answer = {kind, labelId, reason} once answered
  index: 0,
  coarse: null,       // the coarse label whose fine labels are showing
  progress: config.progress,
  leaseNote: "",      // why the last lease came back empty
  started: false,     // a batch was loaded (then an empty item list means "batch done")
  busy: false,        // a lease round trip is under way (see pendingKeys and unappliedKeys)
  pendingKeys: [],    // keys typed while busy that answer nothing (Enter, walking, scrolling): applied once it ends
  // Answering keys (a label, none of these, skip, accept) typed while busy: never applied, as
  // nobody chose them for an item they had seen; counted so the page can say so (keys.js).
  unappliedKeys: 0,
  history: [],        // this session's answers, newest first (see history.js)
  reopen: null,       // the history entry reopened for a change, or null
  // The version (a digest, from the server) of the labels the page shows; "" until a reply says.
  // Answers send it, and a reply to an out-of-date page carries the current labels.
  labelsVersion: config.labelsVersion || "",
  removed: "",        // the server said the annotator is no longer a member: why (nothing is sent)
};

export function current() {
  return state.items[state.index] || null;
}

// The item on screen: a reopened answer's item, else the current one.
export function shown() {
  return state.reopen || current();
}

// Where the page goes next: the first unanswered item at or after \`from\`, else the first
// unanswered one, else items.length ("batch done").
export function firstWaiting(from) {
  const next = state.items.findIndex((it, i) => i >= from && !it.answer);
  if (next >= 0) return next;
  const any = state.items.findIndex((it) => !it.answer);
  return any >= 0 ? any : state.items.length;
}
