// The manager's live view: re-read the figures on every hint from the hall, at most once a second.

import { latest } from "../static/latest.js";
import { live } from "../static/live.js";

const page = document.querySelector("[data-dashboard]");
const stateLabels = JSON.parse(page.dataset.stateLabels);
const printerLabels = JSON.parse(page.dataset.printerLabels);
// The staff header carries languages' names by code; the figures name languages by code.
const languageNames = JSON.parse(document.querySelector("[data-staff-header]").dataset.languageNames);
const languageName = (code) => languageNames[code] || code;

function cells(values) {
  const row = document.createElement("tr");
  for (const value of values) {
    const cell = document.createElement("td");
    cell.textContent = value === null || value === undefined ? "–" : String(value);
    row.append(cell);
  }
  return row;
}

function render(figures) {
  const over = figures.services.filter((service) => service.over_target);
  const printers = Object.entries(figures.printers || {})
    .filter(([, printer]) => printer.status !== "ok");
  const warnings = page.querySelector("[data-warnings]");
  warnings.hidden = over.length === 0 && printers.length === 0;
  warnings.textContent = [
    ...over.map((s) => `${page.dataset.messageOver}: ${s.name}`),
    ...printers.map(([kiosk, printer]) => `${page.dataset.messagePrinter}: ${kiosk} `
                    + `(${printerLabels[printer.status] || printer.status})`),
  ].join(" · ");
  page.querySelector("[data-services]").replaceChildren(...figures.services.map((s) => {
    const row = cells([s.name, s.waiting, s.longest_wait_minutes, s.estimated_wait_minutes,
                       s.target_wait_minutes, s.served_today, s.mean_wait_today_minutes,
                       s.within_target_today === null ? null
                         : `${Math.round(s.within_target_today * 100)}%`]);
    if (s.over_target) row.classList.add("over-target");
    return row;
  }));
  page.querySelector("[data-appointments]").replaceChildren(...(figures.appointments || []).map(
    (s) => cells([s.name, s.booked, s.checked_in, s.missed, s.cancelled])));
  page.querySelector("[data-counters]").replaceChildren(...figures.counters.map((c) => {
    const row = cells([
      c.name, stateLabels[c.state], c.staff, c.services.join(", "),
      c.languages.map(languageName).join(", "), c.ticket,
    ]);
    row.append(deskActions(c));
    return row;
  }));
}

// A manager pauses or closes any desk of the site through the counter API; the server
// refuses (and says why) while a visitor is being served there.
const deskLabels = JSON.parse(page.dataset.deskActions);
const deskStatus = page.querySelector("[data-desk-status]");

function deskActions(counter) {
  const cell = document.createElement("td");
  const allowed = { pause: counter.state === "idle" || counter.state === "serving",
                    close: counter.state !== "closed" };
  for (const action of ["pause", "close"]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button button-quiet";
    button.textContent = deskLabels[action];
    button.setAttribute("aria-label", `${deskLabels[action]}: ${counter.name}`);
    button.dataset.deskAction = action;
    button.dataset.counter = String(counter.id);
    button.disabled = !allowed[action];
    cell.append(button);
  }
  return cell;
}

page.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-desk-action]");
  if (!button || button.disabled) return;
  button.disabled = true;  // one request per click
  deskStatus.textContent = "";
  try {
    const response = await fetch(
      `${page.dataset.countersUrl}${button.dataset.counter}/${button.dataset.deskAction}`,
      { method: "POST", headers: { "X-CSRFToken": page.dataset.csrfToken } });
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      deskStatus.textContent = (answer.error && answer.error.message) || response.statusText;
    }
  } finally {
    await refresh();
  }
});

// The hall message: saved through the API (PUT, with the CSRF token); the server answers
// with the message as it keeps it (trimmed, control characters gone), which the field
// then shows. Every display of the site picks it up at once.
const messageForm = page.querySelector("[data-hall-message-form]");
const messageField = messageForm.querySelector("input[name=message]");
const messageStatus = messageForm.querySelector("[data-hall-message-status]");

async function saveMessage(text) {
  const buttons = messageForm.querySelectorAll("button");
  for (const button of buttons) button.disabled = true;  // one request at a time
  messageStatus.textContent = "";
  try {
    const response = await fetch(messageForm.dataset.url, {
      method: "PUT",
      headers: { "Content-Type": "application/json", "X-CSRFToken": page.dataset.csrfToken },
      body: JSON.stringify({ message: text }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      messageStatus.textContent = (answer.error && answer.error.message) || response.statusText;
      return;
    }
    messageField.value = answer.message || "";
    messageStatus.textContent = answer.message ? messageForm.dataset.saved
      : messageForm.dataset.cleared;
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

messageForm.addEventListener("submit", (event) => {
  event.preventDefault();
  saveMessage(messageField.value);
});
messageForm.querySelector("[data-hall-message-clear]").addEventListener("click", () => {
  saveMessage(null);
});

let pending = null;
const read = latest(page.dataset.statsUrl, render);
function refresh() {
  pending = null;
  return read();
}
function soon() {
  if (pending === null) pending = setTimeout(refresh, 1000);
}

render(JSON.parse(page.querySelector("[data-initial]").textContent));
setInterval(refresh, 30000);  // waits grow even when nothing happens
live({
  rooms: [`site:${page.dataset.site}`, `staff:${page.dataset.site}`],
  refresh,
  hints: ["called", "queue_changed", "counter_changed", "printer_changed"],
  onHint: soon,
});
