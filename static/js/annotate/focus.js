/* Where the keyboard's focus goes when an action hides or replaces the control that had it.
   Only the keyboard puts focus on a button or summary of this page (main.js keeps mouse clicks
   from focusing them; the skip form focuses its first reason itself), so focus on one of them
   means someone is working the page with Tab, Enter and Space, often with a screen reader: they
   get a sensible place to go on from, never the top of the document. */
import { els } from "./state.js";

const app = document.getElementById("annotate-app");

// True when the focus is on a control of the page (a button, summary, link or skip reason).
export function onControl() {
  const a = document.activeElement;
  return Boolean(a && a !== els.itemText && a !== els.filter && app.contains(a) &&
    a.matches("button, summary, a, input[type=radio], #skip-form input"));
}

// The item's text (a screen reader reads it out), else the Next batch / Start button.
export function focusItem() {
  if (!els.itemPanel.hidden) els.itemText.focus({ preventScroll: true });
  else if (!els.donePanel.hidden) els.nextBtn.focus();
  else if (!els.startPanel.hidden) els.startBtn.focus();
}

// Run change(); when a control had the focus and change() hid or removed it, focus the item.
export function keepFocus(change) {
  const had = onControl() ? document.activeElement : null;
  change();
  if (had && (!had.isConnected || had.disabled || !had.offsetParent)) focusItem();
}

// The first usable label button (after a coarse label opened its fine labels by keyboard).
export function focusFirstLabel() {
  const first = els.buttons.querySelector("button.label-btn:not([disabled])");
  if (first) first.focus();
  else focusItem();
}
