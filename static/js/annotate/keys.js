/* The keyboard. One handler (capture phase, on window) owns every key of the page. Text fields
   keep their keys (the label filter and the skip form's own reason). A button, link or <summary>
   that has focus got it from the keyboard (Tab): a mouse click never focuses one (main.js), so
   Enter and Space there do what they do on any page, activate it; every other key is the page's.
   While a batch loads no item is on screen, so a key that would answer one (a label, none of
   these, skip, accept) is not applied: nobody chose it for a text they had seen. The page counts
   and says them (state.unappliedKeys); Enter and the keys that walk, scroll or show help are
   queued and applied in order once the batch is here (as every key is while the page holds
   keys with an item on screen). A key held down answers once: the auto-repeat of an answering
   key is dropped (answersOrChanges). A key a lead gave another meaning only says so on its
   first press after the change (stale_labels.js takeMovedKey).

   Label hotkeys (coarse first, then its fine labels) · Enter keeps an open coarse label, or
   starts the next batch · Esc goes back · / filter · . skip · the none-of-these key (the Other
   label's, 0 by default) · Backspace / Ctrl+Z reopen the last answer, again for the one before
   ([ and ] walk too) · Delete clears a reopened answer · = accepts a suggestion · PageDown,
   PageUp, arrows, Home, End and Space scroll a long text (Space never answers) · ? the keys.

   Hotkeys follow the physical key when the keyboard layout types no Latin letter there (see
   layoutKey): Q on a Russian layout types "й", on a Hebrew one "/", and still means the q label. */
import { acceptSuggestion, answer, clearReopened, closeReopen, closeSkip, openSkip, pickLabel, reopenNewer,
  reopenOlder, submitSkip } from "./actions.js";
import { drainKeys, lease, setKeyApplier } from "./batch.js";
import { noneName } from "./history.js";
import { foldForMatch } from "./label_filter.js";
import { setSaveStatus } from "./outbox.js";
import { bdi, notify, renderLabels, visibleLabels } from "./render.js";
import { takeMovedKey } from "./stale_labels.js";
import { children, els, fullName, key, labels, noneHotkey, noneHotkeyFree, oneChar, shown, state } from "./state.js";

// Every key the project gave a meaning to: the labels' hotkeys and the none-of-these key. Read at
// each key press, not once: a lead's change of hotkeys reaches the page at runtime (state.js
// replaceLabels), and the layout fallback must follow it like the hotkeys themselves do.
function projectKeys() {
  const keys = new Set(labels.map((l) => key(l.hotkey)).filter(Boolean));
  if (noneHotkeyFree) keys.add(noneHotkey);
  return keys;
}
// The page's own one-character keys (applyKey): never a label's hotkey.
const PAGE_SIGNS = new Set(["/", ".", "=", "?", "[", "]"]);

// The key a keydown means here. A layout that types no Latin letter or digit on a letter or
// digit key (Cyrillic, Hebrew, Greek...) falls back to the key's place on a US keyboard, read
// from e.code, unless the typed character is itself one of the project's keys. A page sign
// typed that way ("/" is Hebrew's Q) is the letter only when that letter is a project key and
// Shift is up: a sign typed with Shift (German Shift+7 is "/", French Shift+M is "?") is the
// sign. A Latin layout (AZERTY, QWERTZ) keeps its letters as typed.
function layoutKey(e) {
  const typed = e.key;
  if (!oneChar(typed) || /^[a-z0-9]$/i.test(typed)) return typed;
  const keys = projectKeys();
  if (keys.has(key(typed))) return typed;
  const m = /^(?:Key([A-Z])|Digit([0-9]))$/.exec(e.code || "");
  if (!m) return typed;
  const physical = (m[1] || m[2]).toLowerCase();
  if (PAGE_SIGNS.has(typed)) return !e.shiftKey && m[1] && keys.has(physical) ? physical : typed;
  return physical;
}

// Inside an open coarse label its fine hotkeys win; then top-level labels; a fine label's key
// works from anywhere only when no other fine label shares it.
function hotkeyLabel(k) {
  if (state.coarse) {
    const fine = (children.get(state.coarse.id) || []).find((l) => key(l.hotkey) === k);
    if (fine) return fine;
  }
  const top = labels.find((l) => l.parent === null && key(l.hotkey) === k);
  if (top) return top;
  const fine = labels.filter((l) => l.parent !== null && key(l.hotkey) === k);
  return fine.length === 1 ? fine[0] : null;
}

// Keys that answer the item on screen in applyKey (a label, none of these, skip, accept): while a
// batch loads there is none, so they are not applied. Enter is not one: it starts a batch, and
// keeps a coarse label only once one is open.
function answersItem(k) {
  if (k.ctrlKey) return false; // Ctrl+Z walks the history
  if ([".", "="].includes(k.key)) return true;
  const lower = key(k.key);
  return oneChar(k.key) && (Boolean(hotkeyLabel(lower)) || Boolean(noneHotkeyFree && lower === noneHotkey));
}

// Keys that store or change an answer in applyKey (those, Enter keeping a coarse label, Delete).
// One physical press is one answer: the auto-repeat of a key held a moment too long would answer
// the next items, unseen. Scrolling and walking the history repeat.
function answersOrChanges(k) {
  return answersItem(k) || (!k.ctrlKey && ["Enter", "Delete"].includes(k.key));
}

// The first press of a key whose meaning a lead moved: say what it answers now, answer nothing.
function heldMovedKey(typed, label) {
  if (!takeMovedKey(key(typed))) return false;
  const what = label ? fullName(label) : noneName();
  notify([`A lead moved the hotkeys: ${typed} now answers “`, bdi(what), `”. Press ${typed} again to answer that.`],
    "info");
  return true;
}

const SCROLL_KEYS = new Set(["PageDown", "PageUp", "ArrowDown", "ArrowUp", "Home", "End", " "]);

// PageDown/PageUp/Space by most of a screen of the text box, arrows by a few lines. True when
// the text box overflows (then the key is the box's, not the page's).
function scrollText(k, shift) {
  const box = els.itemText;
  if (!shown() || els.itemPanel.hidden || box.scrollHeight <= box.clientHeight + 1) return false;
  const page = Math.max(box.clientHeight * 0.85, 40);
  const step = { PageDown: page, PageUp: -page, ArrowDown: 40, ArrowUp: -40, " ": shift ? -page : page }[k];
  if (k === "Home") box.scrollTop = 0;
  else if (k === "End") box.scrollTop = box.scrollHeight;
  else box.scrollTop += step;
  return true;
}

// One key, already known to be the page's (not typed into a field). k: {key, ctrlKey, shiftKey}.
function applyKey(k, e) {
  const prevent = () => { if (e) e.preventDefault(); };
  const name = k.key;
  if (SCROLL_KEYS.has(name)) {
    if (scrollText(name, k.shiftKey) || name === " ") prevent(); // Space never clicks or answers
    return;
  }
  if ((k.ctrlKey && name.toLowerCase() === "z") || name === "Backspace" || name === "[") {
    prevent(); reopenOlder(); return;
  }
  if (name === "]") { prevent(); reopenNewer(); return; }
  if (name === "?") { prevent(); els.keysHelp.open = !els.keysHelp.open; return; }
  if (name === "Escape") {
    prevent();
    if (state.coarse) { state.coarse = null; renderLabels(); } else if (state.reopen) closeReopen();
    return;
  }
  if (state.reopen && name === "Delete") { prevent(); clearReopened(); return; }
  if (!shown()) {
    if (name === "Enter") { prevent(); lease(); }
    return;
  }
  if (name === "Enter") { prevent(); if (state.coarse) answer("label", state.coarse.id); return; }
  if (name === "/") { prevent(); els.filter.hidden = false; els.filter.focus(); return; }
  if (name === ".") { prevent(); openSkip(); return; }
  if (name === "=") { prevent(); acceptSuggestion(); return; }
  if (!oneChar(name)) return; // a named key (Tab, F5): no label's
  const lower = key(name);
  const label = hotkeyLabel(lower);
  const none = !label && noneHotkeyFree && lower === noneHotkey;
  if ((label || none) && heldMovedKey(name, label)) { prevent(); return; }
  if (label) { prevent(); pickLabel(label); return; }
  if (none) { prevent(); answer("none"); }
}

function isField(el) {
  return el && ((el.tagName === "INPUT" && el.type !== "radio" && el.type !== "checkbox") ||
    el.tagName === "TEXTAREA" || el.tagName === "SELECT");
}

// Keys that answer nothing on their own: never queued while a batch loads (nor counted as waiting).
const NOT_QUEUED = new Set(["Shift", "Control", "Alt", "AltGraph", "Meta", "OS", "CapsLock", "NumLock",
  "ScrollLock", "Fn", "Tab"]);

function onKeydown(e) {
  if (e.isComposing || e.altKey || e.metaKey || (e.ctrlKey && layoutKey(e).toLowerCase() !== "z")) return;
  const target = e.target;

  if (!els.skipForm.hidden) {
    if (e.key === "Escape") { e.preventDefault(); closeSkip(); return; }
    const reasonKey = layoutKey(e);
    if (!isField(target) && /^[1-4]$/.test(reasonKey)) {
      e.preventDefault();
      if (e.repeat) return; // the press itself skipped: its repeats skip nothing more
      submitSkip(els.skipForm.querySelectorAll("input[name=reason]")[Number(reasonKey) - 1].value);
    }
    return; // the form's own keys (Tab, Enter to submit, arrows between reasons)
  }
  if (target === els.filter) {
    if (e.key === "Escape") { e.preventDefault(); els.filter.value = ""; els.filter.blur(); renderLabels(); }
    else if (e.key === "Enter") {
      e.preventDefault();
      if (e.repeat) return; // the press itself answered
      // Enter in the filter answers only with the match it highlights, and only while something
      // is typed: an empty filter (left focused after a click, or never typed in) highlights
      // nothing, so Enter there is the page's Enter (keep an open coarse label, or nothing).
      const first = foldForMatch(els.filter.value) ? visibleLabels()[0] : null;
      els.filter.blur();
      if (first) answer("label", first.id);
      else if (!state.busy) applyKey({ key: "Enter", ctrlKey: false, shiftKey: false }, null);
    }
    return;
  }
  if (isField(target)) return;
  if (!document.getElementById("annotate-app").contains(target) && target !== document.body && target !== document.documentElement) {
    return; // the site's header and menus keep their keys
  }
  const focused = document.activeElement;
  if (focused && (focused.tagName === "BUTTON" || focused.tagName === "SUMMARY" || focused.tagName === "A")) {
    // Reached with Tab: Enter activates it, and Space a button or summary (a link scrolls).
    // A held Enter clicks again with every repeat: only the press itself activates.
    if (e.key === "Enter" && e.repeat) { e.preventDefault(); return; }
    if (e.key === "Enter" || (e.key === " " && focused.tagName !== "A")) return;
    focused.blur(); // any other key is the page's
  }
  const k = { key: layoutKey(e), ctrlKey: e.ctrlKey, shiftKey: e.shiftKey };
  if (e.repeat && answersOrChanges(k)) { e.preventDefault(); return; } // queued while busy, too
  if (state.busy) {
    if (NOT_QUEUED.has(e.key)) return;
    e.preventDefault();
    // A batch loading shows no item: nothing there to answer. (A lease check holding keys while
    // an item is on screen, leases.js, queues them all: they are meant for that item.)
    if (answersItem(k) && !shown()) state.unappliedKeys += 1;
    else state.pendingKeys.push(k);
    setSaveStatus(); // "waiting for the batch" or "not applied", never "all saved", while it loads
    return;
  }
  if (state.pendingKeys.length) drainKeys();
  applyKey(k, e);
}

export function installKeys() {
  setKeyApplier((k) => applyKey(k, null));
  window.addEventListener("keydown", onKeydown, true);
}

