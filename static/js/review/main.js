/* The review queue from the keyboard: j / k move between tasks (across label groups), x selects
   the current task for a bulk action (Shift+x its whole group, Esc clears), a accepts the model's
   label, d dismisses, a label's hotkey relabels, r opens the label list. With tasks selected a key
   acts on all of them, else on the current one: the card j / k moved to, or the one the keyboard
   focus (Tab) or a click went into, so a key never acts on a card other than the focused one.
   Decisions go to the bulk API with what each card shows of the model (its label and version): a
   new model may have re-scored a task since the page loaded, and the server then leaves it open
   rather than store a label the lead never saw. Resolved tasks, and tasks closed meanwhile, leave
   the page without a reload; a task whose model label changed keeps its card with the server's
   message. A card's own buttons (Accept, Dismiss, "Resolve as <label>") decide for their card
   alone through the same bulk request, so the other cards' selection and the lead's place in the
   list survive them (a reload would lose both); a label chosen from the list r opens is stored for
   the selected tasks when there are any, else for its card, as a relabel either way, as a label's
   hotkey stores it. Without this script the forms post to the page.
   One press decides once: a held key's auto-repeated keydowns decide nothing (only j / k repeat),
   and a decision asked for while the last one is still saving is refused, never queued (by then
   the current card may not be the one the lead looked at), with the status saying so.
   A relabel sends the label's name as the page shows it (label_name) with its id: when another lead
   renamed or swapped labels since the page loaded, the id names another label now, and the server
   stores nothing (409) and sends the labels as they are; the page takes them (its label lists,
   label keys and "Resolve as" buttons) and says so, and the lead chooses again.
   A decision whose reply never arrives (the connection dropped, the body was cut off) may have been
   stored: the page says so, never "not saved", asks the server which tasks are still open and takes
   the closed ones off the page. The counts line above the queue follows each decision (counts.js). */
import { post, refusalOf } from "../annotate/http.js";
import { countsAfterDecision, queueUrl, refreshGroups } from "./counts.js";

const config = JSON.parse(document.getElementById("review-config").textContent);
const app = document.getElementById("review-app");
const statusEl = document.getElementById("review-status");
const selectionEl = document.getElementById("selection-status");
const emptyEl = document.getElementById("review-empty");
// The page's own keys, as its key list shows them (data-page-key). They win over a label's hotkey:
// labels have not been given them since they were reserved (labeling/projects/hotkeys.py), and a
// label that held one before keeps it for the annotation page and is chosen here with r.
const pageKeys = new Set(Array.from(document.querySelectorAll("[data-page-key]"), (el) => el.dataset.pageKey));
// "?" opens the key list (the server leaves it out of config.hotkeys too).
const notLabelKey = (key) => pageKeys.has(key) || key === "?";
const hotkeys = new Map(config.hotkeys.filter((h) => !notLabelKey(h.key.toLowerCase()))
  .map((h) => [h.key.toLowerCase(), h]));
let current = null;
let busy = false;
// The decisions asked for while the last one was saving, refused: [action, label or null].
let refused = [];

const tasks = () => Array.from(app.querySelectorAll(".review-task:not(.done)"));
const selected = () => tasks().filter((t) => t.classList.contains("selected"));

// focus: false when the focus is already inside the card (Tab, a click on a button), where taking
// it to the card itself would lose the lead's place among its controls.
function setCurrent(card, {scroll = true, focus = true} = {}) {
  if (current) current.classList.remove("current");
  current = card || null;
  if (!current) return;
  current.classList.add("current");
  if (focus) current.focus({preventScroll: true});
  if (scroll) current.scrollIntoView({block: "nearest"});
}

function move(step) {
  const list = tasks();
  if (!list.length) return;
  const at = list.indexOf(current);
  setCurrent(list[at < 0 ? 0 : Math.max(0, Math.min(list.length - 1, at + step))]);
}

function setSelected(card, on) {
  card.classList.toggle("selected", on);
  card.querySelector(".select-task").checked = on;
}

function showSelection() {
  const n = selected().length;
  selectionEl.textContent = n ? n + " selected" : "Nothing selected";
  // A label chosen from a card's list goes to the selection when there is one: its button says so.
  app.querySelectorAll(".relabel-submit").forEach((button) => {
    button.textContent = n ? "Resolve " + n + " selected" : "Resolve";
  });
}

// What the card showed of the model when the lead decided: the server compares it with the task's
// current model label, which a new model may have changed since the page loaded.
function shownOf(card) {
  const version = card.dataset.modelVersion;
  return {task: Number(card.dataset.task), label: card.dataset.modelLabel || null,
          model_version: version ? Number(version) : null};
}

// The server's reason a task stayed open (its model label changed), on the card itself.
function noteOn(card, text) {
  let note = card.querySelector(".task-note");
  if (!note) {
    note = document.createElement("p");
    note.className = "notice error task-note";
    card.querySelector(".task-head").after(note);
  }
  note.textContent = "Left open: " + text + ".";
}

function isolated(text) {
  const bdi = document.createElement("bdi");
  bdi.textContent = text;
  return bdi;
}

function targets() {
  const chosen = selected();
  return chosen.length ? chosen : current ? [current] : [];
}

// What a decision is called in the status: "accept", "relabel as <name>".
function decisionName(action, label) {
  return action === "relabel" ? ["relabel as ", isolated(label ? label.name : "")] : [action];
}

// The status line, followed by the decisions refused while the last one was saving (if any).
function say(parts, {saving = false} = {}) {
  const out = [...parts];
  if (refused.length) {
    out.push(" Not applied: ");
    refused.forEach(([action, label], i) => out.push(...(i ? [", "] : []), ...decisionName(action, label)));
    out.push(", pressed while saving; press " + (refused.length === 1 ? "it" : "them") + " again" +
      (saving ? " once saved." : "."));
  }
  statusEl.replaceChildren(...out);
}

function refuse(action, label) {
  refused.push([action, label || null]);
  say(["Saving…"], {saving: true});
}

// The project's labels as the server sent them with a refused relabel (labels_payload: id, name,
// full_name, hotkey), put in place of the page's: each card's list (its choice kept where the label
// still exists), the label keys and their list, the "Resolve as" buttons (renamed; gone with their label).
function adoptLabels(labels) {
  const byId = new Map(labels.map((l) => [String(l.id), l]));
  const optionsOf = () => labels.map((l) => {
    const option = document.createElement("option");
    option.value = String(l.id);
    option.dir = "auto";
    option.textContent = l.full_name;
    return option;
  });
  // The page's one list too, where it has one: a card's list opened later is filled from it.
  document.querySelectorAll("template.label-choices").forEach((source) => source.content.replaceChildren(...optionsOf()));
  app.querySelectorAll(".relabel-select").forEach((select) => {
    if (select.dataset.labelChoices && !select.dataset.filled) return;
    const keep = byId.has(select.value) ? select.value : "";
    select.replaceChildren(select.options[0], ...optionsOf());
    select.value = keep;
  });
  app.querySelectorAll(".resolve-form:not(.relabel-form) button[name=label]").forEach((button) => {
    const label = byId.get(button.value);
    if (label) button.textContent = label.name; else button.remove();
  });
  hotkeys.clear();
  labels.filter((l) => l.hotkey && !notLabelKey(l.hotkey.toLowerCase()))
    .map((l) => ({id: l.id, name: l.full_name, key: l.hotkey.toLowerCase()}))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .forEach((h) => hotkeys.set(h.key, h));
  const keyList = app.querySelector(".review-keys .keys");
  keyList.querySelectorAll(".relabel-key").forEach((li) => li.remove());
  hotkeys.forEach((h) => {
    const li = document.createElement("li");
    li.className = "relabel-key";
    const kbd = document.createElement("kbd");
    kbd.textContent = h.key;
    li.append(kbd, " relabel as ", h.name);
    keyList.append(li);
  });
}

// A page with many labels and cards lists the labels once (a <template>; each card's list names it
// in data-label-choices and holds only "— choose —"): a card's list is filled from it when the lead
// opens it (r, Tab, a click), so the page holds cards + labels options, not cards × labels. The
// "Show the labels" links reload the page with one card's list filled, for browsers without this script.
function fillLabels(select) {
  if (!select || !select.dataset.labelChoices || select.dataset.filled) return;
  const source = document.getElementById(select.dataset.labelChoices);
  if (!source) return;
  select.dataset.filled = "1";
  const keep = select.value;
  select.replaceChildren(select.options[0], ...Array.from(source.content.children, (o) => o.cloneNode(true)));
  select.value = keep;
}

// The decision's reply was lost: the server may or may not have stored it. Asks it which tasks are
// still open (the queue's oldest first, as the page was built: as many as the page held cover every
// card still open) and takes the closed cards off the page, so it shows what was stored.
async function recheck(cards) {
  const lost = "No reply from the server: the decision may have been saved";
  const reason = new URLSearchParams(window.location.search).get("reason");
  const url = queueUrl(config.bulkUrl, "groups/") + "?limit=" + Math.max(1, app.querySelectorAll(".review-task").length) +
    (reason ? "&reason=" + encodeURIComponent(reason) : "");
  let open;
  try {
    const response = await fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}});
    if (!response.ok) throw new Error("HTTP " + response.status);
    open = new Set((await response.json()).groups.flatMap((g) => g.tasks.map((t) => String(t.id))));
  } catch (err) {
    say([lost + "; reload the page to see."]);
    return;
  }
  await countsAfterDecision(config.bulkUrl);
  const list = tasks();
  const after = list.slice(list.indexOf(current) + 1);
  list.forEach((card) => {
    if (open.has(card.dataset.task)) return;
    card.classList.add("done");
    card.hidden = true;
    setSelected(card, false);
  });
  const closed = cards.filter((c) => !open.has(c.dataset.task)).length;
  const left = cards.length - closed;
  say([lost + ". Asked again: " + closed + " of " + cards.length + " task" + (cards.length === 1 ? "" : "s") +
    " closed now" + (left ? "; " + left + " still open: decide " + (left === 1 ? "it" : "them") + " again." : ".")]);
  refreshGroups(app, emptyEl);
  showSelection();
  if (!current || current.classList.contains("done")) {
    setCurrent(after.find((c) => !c.classList.contains("done")) || tasks()[tasks().length - 1]);
  }
}

// Resolves true once the server answered with its result, false otherwise (refused, not saved).
// cards: the tasks to decide (a card's own button names its card), by default the keys' targets.
async function act(action, label, cards = targets()) {
  if (busy) { refuse(action, label); return false; }
  if (!cards.length) return false;
  busy = true;
  const body = {action, tasks: cards.map((c) => Number(c.dataset.task)), shown: cards.map(shownOf)};
  if (label) { body.label = label.id; body.label_name = label.name; }
  say(["Saving…"], {saving: true});
  try {
    // A failed request or reply body means no reply, not "not saved": the server may have stored it.
    let response, result;
    try {
      response = await post(config.bulkUrl, body);
      if (response.ok) result = await response.json();
    } catch (err) {
      await recheck(cards);
      return false;
    }
    if (!response.ok) {
      const refusal = await refusalOf(response);
      if (refusal.field === "label_name" && Array.isArray(refusal.body.labels)) {
        adoptLabels(refusal.body.labels);
        say(["Not saved: " + refusal.reason + " The labels on this page were reloaded."]);
      } else {
        say(["Not saved: " + refusal.reason]);
      }
      return false;
    }
    // The counts line's read, waited for a moment only (counts.js): a slow one follows the outcome.
    // A key is refused as "pressed while saving" until the cards and the status have changed.
    await countsAfterDecision(config.bulkUrl);
    const done = new Set(result.done.map(String));
    const labeled = new Set(result.labeled_items.map(String));
    // Tasks closed since the page loaded (by a new model, another lead) are gone from the queue too.
    const closed = new Set(result.skipped.filter((s) => s.code === "closed_meanwhile").map((s) => String(s.task)));
    const notes = new Map(result.skipped.filter((s) => s.code === "prediction_changed").map((s) => [String(s.task), s.reason]));
    const list = tasks();
    const after = list.slice(list.indexOf(current) + 1);
    list.forEach((card) => {
      // A label stored for an item resolves every open task of that item.
      if (done.has(card.dataset.task) || labeled.has(card.dataset.item) || closed.has(card.dataset.task)) {
        card.classList.add("done");
        card.hidden = true;
        setSelected(card, false);
      } else if (notes.has(card.dataset.task)) {
        noteOn(card, notes.get(card.dataset.task));
      }
    });
    // A label's name in its own <bdi>: a right-to-left name would otherwise carry the count after it
    // to its left.
    // A relabel to the model's own label is recorded as accepted (result.accepted): said so, not "relabeled".
    const accepted = action === "relabel" ? (result.accepted || []).length : 0;
    const name = isolated(label ? label.name : "");
    const verb = {accept: ["Accepted"], dismiss: ["Dismissed"],
      relabel: accepted && accepted === result.done.length ? ["Accepted ", name, " (the model's label)"] : ["Relabeled as ", name]}[action];
    const mixed = accepted && accepted < result.done.length ?
      " (" + accepted + " of them the model's label: recorded as accepted)" : "";
    const skips = result.skipped.map((s) => "task " + s.task + (s.code === "closed_meanwhile" ? " " : " left open: ") + s.reason);
    say([...verb, ": " + result.done.length + " task" + (result.done.length === 1 ? "" : "s") + mixed +
      (skips.length ? "; " + skips.join("; ") : "") + "."]);
    refreshGroups(app, emptyEl);
    showSelection();
    if (!current || current.classList.contains("done")) {
      setCurrent(after.find((c) => !c.classList.contains("done")) || tasks()[tasks().length - 1]);
    }
    return true;
  } catch (err) {
    // Only after the server's reply: the decision was stored, the page failed to show it.
    say(["Saved, but the page could not show it (" + err.message + "); reload the page to see."]);
    return false;
  } finally {
    busy = false;
    refused = [];
  }
}

// The key a review key is compared as: letters in lower case, so Caps Lock does not turn j into a
// different key (Shift is read from e.shiftKey). A character that is none of the page's keys nor a
// label's, typed on a key whose position is a Latin letter or a digit (a Russian or Hebrew layout
// gives "о" for the J key), counts as that letter or digit, as the keys help says. A Latin layout
// (AZERTY, QWERTZ) keeps its letters as typed, as the annotation page's layoutKey does.
// One character as the server counts a hotkey (code points): "🎉" is one, "Enter" none.
const oneChar = (k) => k.length > 0 && k.length <= 2 && [...k].length === 1;

function keyOf(e) {
  if (!oneChar(e.key)) return e.key;
  const k = e.key.toLowerCase();
  if (/^[a-z0-9]$/.test(k) || pageKeys.has(k) || hotkeys.has(k)) return k;
  const position = /^(?:Key([A-Z])|Digit([0-9]))$/.exec(e.code || "");
  return position ? (position[1] || position[2]).toLowerCase() : k;
}

function onKeydown(e) {
  if (e.altKey || e.metaKey || e.ctrlKey) return;
  const t = e.target;
  if (t && (t.tagName === "INPUT" && t.type !== "checkbox" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) {
    if (e.key === "Escape") { t.blur(); if (current) current.focus({preventScroll: true}); }
    return;
  }
  if (t && t.tagName === "BUTTON" && (e.key === "Enter" || e.key === " ")) {
    // Held on a card's button, Enter would press it again with each repeat.
    if (e.repeat) e.preventDefault();
    return;
  }
  const k = keyOf(e);
  if (k === "j" || k === "ArrowDown") { e.preventDefault(); move(1); return; }
  if (k === "k" || k === "ArrowUp") { e.preventDefault(); move(-1); return; }
  // A key held a moment too long repeats its keydown: one press decides (or selects) one card, and
  // the repeats must not go on to the cards after it, which the lead has not seen.
  if (e.repeat) {
    if (pageKeys.has(k) || hotkeys.has(k)) e.preventDefault();
    return;
  }
  if (!current) { if (oneChar(e.key)) move(0); if (!current) return; }
  if (k === "x" && !e.shiftKey) { e.preventDefault(); setSelected(current, !current.classList.contains("selected")); showSelection(); return; }
  if (k === "x") {
    e.preventDefault();
    const group = Array.from(current.closest(".review-group").querySelectorAll(".review-task:not(.done)"));
    const on = !group.every((c) => c.classList.contains("selected"));
    group.forEach((c) => setSelected(c, on));
    showSelection();
    return;
  }
  if (k === "Escape") { e.preventDefault(); selected().forEach((c) => setSelected(c, false)); showSelection(); return; }
  if (k === "a") { e.preventDefault(); act("accept"); return; }
  if (k === "d") { e.preventDefault(); act("dismiss"); return; }
  if (k === "r") {
    e.preventDefault();
    const select = current.querySelector(".relabel-select");
    fillLabels(select);
    select.focus();
    return;
  }
  const label = hotkeys.get(k);
  if (label) { e.preventDefault(); act("relabel", label); }
}

// A card's forms go through the bulk request, as the keys do, rather than posting the page: the
// buttons decide for their own card only; the label list's form decides for the selected tasks when
// there are any (its button says so), else for its card. While a decision is saving, act refuses
// them like a key. A form this does not know (none today) still posts.
app.addEventListener("submit", (e) => {
  const form = e.target;
  const card = form.closest(".review-task");
  const button = e.submitter;
  let decide = null;
  if (form.classList.contains("relabel-form")) {
    const select = form.querySelector(".relabel-select");
    const label = {id: Number(select.value), name: select.selectedOptions[0].textContent};
    const chosen = selected();
    decide = async () => { if (await act("relabel", label, chosen.length ? chosen : [card])) select.value = ""; };
  } else if (button && button.name === "label") {
    decide = () => act("relabel", {id: Number(button.value), name: button.textContent}, [card]);
  } else if (button && (button.value === "accept" || button.value === "dismiss")) {
    decide = () => act(button.value, null, [card]);
  }
  if (!card || !decide) return;
  e.preventDefault();
  decide();
});

app.addEventListener("click", (e) => {
  const card = e.target.closest(".review-task");
  if (!card) return;
  if (e.target.classList.contains("select-task")) {
    card.classList.toggle("selected", e.target.checked);
    showSelection();
  }
  if (card !== current) setCurrent(card, {scroll: false});
});
// Tab into another card's controls makes that card the current one, so the next key acts there.
app.addEventListener("focusin", (e) => {
  const card = e.target.closest(".review-task");
  if (card && card !== current && !card.classList.contains("done")) setCurrent(card, {scroll: false, focus: false});
});
// Filled before the list opens or takes a key: capture runs ahead of the select's own handling.
["focusin", "pointerdown", "mousedown"].forEach((type) => app.addEventListener(type, (e) => {
  if (e.target.classList && e.target.classList.contains("relabel-select")) fillLabels(e.target);
}, true));
app.querySelectorAll(".relabel-list-link").forEach((link) => { link.hidden = true; });
document.addEventListener("keydown", onKeydown);
setCurrent(tasks()[0], {scroll: false});
refreshGroups(app, emptyEl);
