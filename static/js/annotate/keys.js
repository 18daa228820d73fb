/* The keyboard: label hotkeys (coarse first, then its fine labels), / to filter, . to skip,
   0 (or the Other label's key) for none of these, Backspace or Ctrl+Z to undo, ? for help.
   Keys typed into a text field stay there; a focused button keeps Enter and Space for its own
   click. */
import { answer, closeSkip, lease, openSkip, pickLabel, submitSkip, undo } from "./actions.js";
import { renderLabels, visibleLabels } from "./render.js";
import { children, current, els, key, labels, noneHotkey, noneHotkeyFree, state } from "./state.js";

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

function onKeydown(e) {
  if (e.altKey || e.metaKey || (e.ctrlKey && e.key.toLowerCase() !== "z")) return;
  const target = e.target;
  const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA") && target.type !== "radio";

  if (!els.skipForm.hidden) {
    if (e.key === "Escape") { e.preventDefault(); closeSkip(); return; }
    if (!typing && /^[1-4]$/.test(e.key)) {
      e.preventDefault();
      submitSkip(els.skipForm.querySelectorAll("input[name=reason]")[Number(e.key) - 1].value);
    }
    return;
  }
  if (target === els.filter) {
    if (e.key === "Escape") { e.preventDefault(); els.filter.value = ""; els.filter.blur(); renderLabels(); }
    else if (e.key === "Enter") {
      e.preventDefault();
      const first = visibleLabels()[0];
      if (first) { els.filter.blur(); answer("label", first.id); }
    }
    return;
  }
  if (typing) return;
  if (target && target.tagName === "BUTTON" && (e.key === "Enter" || e.key === " ")) return; // its own click

  if ((e.ctrlKey && e.key.toLowerCase() === "z") || e.key === "Backspace") { e.preventDefault(); undo(); return; }
  if (e.key === "?") { e.preventDefault(); els.keysHelp.open = !els.keysHelp.open; return; }
  if (!current()) {
    if (e.key === "Enter" && !state.busy) { e.preventDefault(); lease(); }
    return;
  }
  if (e.key === "/") { e.preventDefault(); els.filter.hidden = false; els.filter.focus(); return; }
  if (e.key === "Escape" && state.coarse) { e.preventDefault(); state.coarse = null; renderLabels(); return; }
  if (e.key === "Enter" && state.coarse) { e.preventDefault(); answer("label", state.coarse.id); return; }
  if (e.key === ".") { e.preventDefault(); openSkip(); return; }
  const k = key(e.key);
  if (k.length !== 1) return;
  const label = hotkeyLabel(k);
  if (label) { e.preventDefault(); pickLabel(label); return; }
  if (noneHotkeyFree && k === noneHotkey) { e.preventDefault(); answer("none"); }
}

export function installKeys() {
  document.addEventListener("keydown", onKeydown);
}
