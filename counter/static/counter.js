// The counter workstation: one-click actions, keyboard shortcuts, and a live waiting list.
// Texts come from data-* attributes rendered through Babel.

import { latest } from "../static/latest.js";
import { live } from "../static/live.js";

const page = document.querySelector("[data-workstation]");
const status = page.querySelector("[data-status]");
const csrfToken = document.querySelector("meta[name=csrf-token]").content;
const needLabels = JSON.parse(page.dataset.needLabels);
// The staff header carries the texts every staff page shows alike.
const staffHeader = document.querySelector("[data-staff-header]").dataset;
const languageNames = JSON.parse(staffHeader.languageNames);
const languageName = (code) => languageNames[code] || code;
const minutes = (count) => staffHeader.messageMinutes.replace("{minutes}", String(count));
const stateLabels = JSON.parse(page.dataset.stateLabels);
const apiBase = page.dataset.api;
const SHORTCUTS = { n: "call-next", r: "recall", s: "start", x: "no-show", f: "finish" };
const undoLabels = JSON.parse(page.dataset.labelUndo);
const noShowDialog = page.querySelector("[data-no-show-dialog]");
const callDialog = page.querySelector("[data-call-dialog]");
const UNDO_SECONDS = 120;

function filled(template, values) {
  return Object.entries(values).reduce(
    (text, [name, value]) => text.replace(`{${name}}`, String(value)), template);
}

function field(name) {
  return page.querySelector(`[data-field="${name}"]`);
}

function needsText(needs) {
  return needs.length ? needs.map((need) => needLabels[need] || need).join(", ") : "–";
}

// While an action is on its way every button is disabled, so that a key pressed too
// early is refused visibly rather than dropped behind a button that looks ready.
let acting = false;
let shown = null;

function render(view) {
  shown = view;
  // The desk's other panels (its appointments) follow what the desk shows.
  page.dispatchEvent(new CustomEvent("desk-view", { detail: view }));
  const current = view.current;
  field("number").textContent = current ? current.ticket.number : "–";
  field("service").textContent = current ? current.step.service : "–";
  field("state").textContent = current ? stateLabels[current.step.state] : "–";
  field("language").textContent = current ? languageName(current.ticket.language) : "–";
  field("needs").textContent = current ? needsText(current.ticket.needs) : "–";
  field("waited").textContent = current ? minutes(current.step.waited_minutes) : "–";
  field("journey").textContent = current
    ? current.ticket.journey.map((step) => `${step.service} (${stateLabels[step.state]})`).join(" → ")
    : "–";
  field("note").textContent = (current && current.step.note) || "–";
  const state = current ? current.step.state : null;
  field("recall-hint").textContent = state !== "called" ? ""
    : current.step.recalls_left === 0 ? page.dataset.messageLastRecall
      : filled(page.dataset.messageRecallsLeft, { count: current.step.recalls_left });
  for (const button of page.querySelectorAll("[data-action]")) {
    const action = button.dataset.action;
    button.disabled = acting || {
      "call-next": state !== null || view.counter.status !== "open",
      recall: state !== "called", start: state !== "called", "no-show": state !== "called",
      finish: state !== "serving",
      pause: view.counter.status !== "open" || state === "serving",
      resume: view.counter.status !== "paused",
      close: view.counter.status === "closed" || state === "serving",
      undo: !view.undo || state !== null,
    }[action];
  }
  renderUndo(view.undo);
  page.querySelector("[data-refer] button").disabled = acting || state === null;
  renderReferral(current);
  renderTransfer(view.transfer_targets || [], state);

  field("waiting-count").textContent = String(view.waiting.length);
  const body = page.querySelector("[data-waiting]");
  body.replaceChildren(...view.waiting.map((row) => {
    const line = document.createElement("tr");
    for (const text of [row.number, row.service, minutes(row.waited_minutes),
                        languageName(row.language), needsText(row.needs)]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      line.append(cell);
    }
    if (row.reserved) line.cells[0].append(` (${page.dataset.labelTransferred})`);
    const call = document.createElement("button");
    call.type = "button";
    call.className = "button button-quiet";
    call.textContent = page.dataset.labelCall;
    call.setAttribute("aria-label", filled(page.dataset.labelCallTicket, { number: row.number }));
    call.dataset.callStep = String(row.step_id);
    call.dataset.number = row.number;
    call.disabled = acting || state !== null || view.counter.status !== "open";
    const cell = document.createElement("td");
    cell.append(call);
    line.append(cell);
    return line;
  }));
}

// Undo stays offered for two minutes after a finish or a no-show; the server decides,
// and the page asks again when the time is up rather than trusting its own clock.
let undoTimer = null;
// Buttons are styled as flex boxes, which `hidden` alone does not take out of view.
function show(element, shown) {
  element.hidden = !shown;
  element.style.display = shown ? "" : "none";
}

function renderUndo(undo) {
  const button = page.querySelector("[data-action=undo]");
  show(button, Boolean(undo));
  if (undo) button.textContent = filled(undoLabels[undo.action], { number: undo.ticket });
  clearTimeout(undoTimer);
  if (undo) undoTimer = setTimeout(() => refresh(), (UNDO_SECONDS + 1) * 1000);
}

// A service already in the journey cannot be chosen again.
function renderReferral(current) {
  const inJourney = new Set(current ? current.ticket.journey.map((step) => step.service_id) : []);
  for (const option of page.querySelector("[data-refer]").service.options) {
    option.disabled = option.value !== "" && inJourney.has(Number(option.value));
  }
}

function renderTransfer(targets, state) {
  const form = page.querySelector("[data-transfer]");
  const chosen = form.counter.value;
  const empty = new Option("–", "");
  form.counter.replaceChildren(empty, ...targets.map((desk) => new Option(desk.name, desk.id)));
  form.counter.value = targets.some((desk) => String(desk.id) === chosen) ? chosen : "";
  form.querySelector("button").disabled = acting || state === null || !targets.length;
}

// One accessible confirmation (a modal <dialog>) for click and key alike. Resolves with
// the button chosen: "cancel" or "keep" for the rest of the journey, "" to go back.
function ask(dialog, text) {
  dialog.querySelector("[data-dialog-text]").textContent = text;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.showModal();
  });
}

async function confirmNoShow(message) {
  const current = shown.current;
  const later = current.step.later_services > 0;
  noShowDialog.querySelector("button[value=cancel]").textContent = later
    ? page.dataset.messageCancelRest : page.dataset.messageNoShowOnly;
  show(noShowDialog.querySelector("button[value=keep]"), later);
  return ask(noShowDialog, filled(message, { number: current.ticket.number }));
}

// No-show by click or X, and a recall once none is left: each asks first.
async function perform(action) {
  const current = shown && shown.current;
  if (action === "no-show") {
    const remaining = await confirmNoShow(page.dataset.messageConfirmNoShow);
    if (remaining) act("no-show", { remaining });
  } else if (action === "recall" && current && current.step.recalls_left === 0) {
    const remaining = await confirmNoShow(page.dataset.messageRecallLimit);
    if (remaining) act("recall", { confirm_no_show: true, remaining });
  } else {
    act(action);
  }
}

const refresh = latest(apiBase, render);

async function act(action, body = {}) {
  if (acting) return;  // one request at a time: a double click is one action
  acting = true;
  page.setAttribute("aria-busy", "true");
  render(shown);
  try {
    await send(action, body);
  } finally {
    acting = false;
    page.removeAttribute("aria-busy");
    render(shown);
  }
}

async function send(action, body) {
  status.textContent = "";
  const response = await fetch(`${apiBase}/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify(body),
  });
  if (response.status === 204) {
    const held = Number(response.headers.get("X-Held") || 0);
    status.textContent = held
      ? page.dataset.messageHeld.replace("{count}", String(held))
      : page.dataset.messageNobody;
  } else if (!response.ok) {
    // Another desk was faster, a wrong state...: the server says what happened.
    const answer = await response.json().catch(() => ({}));
    status.textContent = (answer.error && answer.error.message) || response.statusText;
  }
  await refresh();
}

page.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-action]");
  if (button && !button.disabled) perform(button.dataset.action);
  const call = event.target.closest("[data-call-step]");
  if (call && !call.disabled) {
    callDialog.querySelector("[data-dialog-problem]").textContent = "";
    callDialog.querySelector("input").value = "";
    const text = filled(page.dataset.messageCallTicket, { number: call.dataset.number });
    if (await ask(callDialog, text) === "call") {
      act("call", { step: Number(call.dataset.callStep),
                    reason: callDialog.querySelector("input").value });
    }
  }
});

// The reason is asked for before the dialog closes, in the page's language.
callDialog.querySelector("form").addEventListener("submit", (event) => {
  const input = callDialog.querySelector("input");
  if (event.submitter && event.submitter.value === "call" && !input.value.trim()) {
    event.preventDefault();
    callDialog.querySelector("[data-dialog-problem]").textContent = page.dataset.messageGiveReason;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  } else {
    input.removeAttribute("aria-invalid");
  }
});

// A choice is needed: submitting the empty first option says so instead of sending.
function chosen(select, message) {
  if (select.value) {
    select.removeAttribute("aria-invalid");
    return true;
  }
  select.setAttribute("aria-invalid", "true");
  status.textContent = message;
  select.focus();
  return false;
}

page.querySelector("[data-refer]").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  if (!chosen(form.service, page.dataset.messageChooseService)) return;
  act("refer", { service: Number(form.service.value), note: form.note.value });
  form.note.value = "";
  form.service.value = "";
});

page.querySelector("[data-transfer]").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  if (!chosen(form.counter, page.dataset.messageChooseDesk)) return;
  act("transfer", { counter: Number(form.counter.value) });
});

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target.closest("input, select, textarea")) return;
  if (page.querySelector("dialog[open]")) return;  // the dialog has the keyboard
  const action = SHORTCUTS[event.key.toLowerCase()];
  const button = action && page.querySelector(`[data-action="${action}"]`);
  if (button && !button.disabled) {
    event.preventDefault();
    perform(action);
  }
});

render(JSON.parse(page.querySelector("[data-initial]").textContent));

live({
  rooms: [`counter:${page.dataset.counter}`, `staff:${page.dataset.site}`],
  refresh,
  hints: ["queue_changed", "counter_changed", "called"],
  onConnection: (connected) => { status.textContent = connected ? "" : page.dataset.messageOffline; },
});
