// The desk's appointments: today's coming ones for its services, and booking one for the
// visitor at the desk (any service of the site, in the visitor's language), then showing the
// code big and offering a printed slip. Texts come from data-* attributes rendered by Babel.

import { latest } from "../static/latest.js";

const section = document.querySelector("[data-appointments]");
const settings = section.dataset;
const csrfToken = document.querySelector("meta[name=csrf-token]").content;
const languageNames = JSON.parse(document.querySelector("[data-staff-header]").dataset.languageNames);
const languageName = (code) => languageNames[code] || code;
const stateLabels = JSON.parse(settings.stateLabels);
const dialog = document.querySelector("[data-booking-dialog]");
const form = dialog.querySelector("[data-booking-form]");
const done = dialog.querySelector("[data-booking-done]");
const problem = dialog.querySelector("[data-booking-problem]");
const slotsHint = dialog.querySelector("[data-slots-hint]");
const REFRESH_SECONDS = 60;

// A local ISO time with its offset ("2026-11-23T12:00:00+02:00") read as the site's wall
// clock: the browser's own zone may differ from the centre's.
const wallTime = (iso) => iso.slice(11, 16);
const wallDay = (iso) => iso.slice(0, 10);

function cell(text) {
  const element = document.createElement("td");
  element.textContent = text;
  return element;
}

function renderUpcoming(rows) {
  section.querySelector("[data-field=appointments-count]").textContent = String(rows.length);
  section.querySelector("[data-upcoming]").replaceChildren(...rows.map((row) => {
    const line = document.createElement("tr");
    line.dataset.state = row.state;
    const language = cell(languageName(row.language));
    if (row.interpreter) {
      language.append(` (${settings.labelInterpreter})`);
      language.classList.add("interpreter");
    }
    line.append(cell(row.time), cell(row.service), language,
                cell(stateLabels[row.state] || row.state));
    return line;
  }));
}

const readUpcoming = latest(settings.api, (body) => renderUpcoming(body.appointments));

// The desk re-reads its live state on every hint; the appointments follow, at most every
// two seconds, and every minute besides, as appointments pass their times unannounced.
let upcomingTimer = null;
function soon() {
  if (upcomingTimer === null) {
    upcomingTimer = setTimeout(() => { upcomingTimer = null; readUpcoming(); }, 2000);
  }
}

// The visitor at the desk is the one most likely to book: their language comes first.
let visitorLanguage = settings.language;
section.closest("[data-workstation]").addEventListener("desk-view", (event) => {
  const current = event.detail.current;
  visitorLanguage = current ? current.ticket.language : settings.siteLanguage;
  soon();
});

function slotOption(slot) {
  const label = slot.interpreter
    ? `${wallTime(slot.start)} · ${settings.labelInterpreter}` : wallTime(slot.start);
  return new Option(label, slot.start);
}

// Language first: the slots where the visitor's language is spoken, then those with an
// interpreter by phone, as the server orders them; full slots are left out.
const showSlots = latest(() => {
  const url = settings.slotsApi.replace("SERVICE", encodeURIComponent(form.service.value));
  const query = new URLSearchParams({ from: form.day.value, days: "1",
                                      language: form.language.value });
  return `${url}?${query}`;
}, (body) => {
  const free = body.slots.filter((slot) => slot.available > 0);
  const groups = [[false, settings.labelSpoken], [true, settings.labelInterpreter]]
    .map(([interpreter, label]) => {
      const group = document.createElement("optgroup");
      group.label = label;
      group.append(...free.filter((slot) => slot.interpreter === interpreter).map(slotOption));
      return group;
    }).filter((group) => group.children.length);
  form.start.replaceChildren(...groups);
  slotsHint.textContent = free.length ? "" : settings.messageNoSlots;
});

function readSlots() {
  form.start.replaceChildren();
  problem.textContent = "";
  if (!form.service.value || !form.day.value) {
    slotsHint.textContent = "";
    return;
  }
  slotsHint.textContent = settings.messageLoading;
  showSlots();
}

for (const name of ["service", "language", "day"]) form[name].addEventListener("change", readSlots);

// The form and the result are flex boxes, which `hidden` alone does not take out of view.
function show(element, shown) {
  element.hidden = !shown;
  element.style.display = shown ? "" : "none";
}

function showForm() {
  show(done, false);
  show(form, true);
  problem.textContent = "";
  form.email.value = "";
  form.phone.value = "";
  form.language.value = visitorLanguage;
  readSlots();
}

section.querySelector("[data-book-open]").addEventListener("click", () => {
  showForm();
  dialog.showModal();
  form.service.focus();
});

for (const button of dialog.querySelectorAll("[data-booking-close]")) {
  button.addEventListener("click", () => dialog.close());
}
dialog.querySelector("[data-booking-again]").addEventListener("click", () => {
  showForm();
  form.service.focus();
});

function refuse(field, message) {
  problem.textContent = message;
  field.setAttribute("aria-invalid", "true");
  field.focus();
}

// The server's error codes that name a field of this form, to put the focus back there.
const FIELD_OF = { invalid_email: "email", invalid_phone: "phone", unknown_language: "language",
                   unknown_service: "service", no_appointments: "service" };

function showBooked(appointment) {
  const option = form.service.selectedOptions[0];
  dialog.querySelector("[data-booking-code]").textContent = appointment.code;
  dialog.querySelector("[data-booking-field=service]").textContent = option.textContent;
  dialog.querySelector("[data-booking-field=when]").textContent =
    `${wallDay(appointment.start)} ${wallTime(appointment.start)}`;
  dialog.querySelector("[data-booking-field=language]").textContent =
    languageName(appointment.language);
  dialog.querySelector("[data-booking-print]").href =
    settings.printUrl.replace(/\/0\/print$/, `/${appointment.id}/print`);
  show(form, false);
  show(done, true);
  dialog.querySelector("[data-booking-done-title]").focus();
}

let sending = false;
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (sending) return;  // one booking per press, however fast the keys
  for (const field of form.elements) field.removeAttribute("aria-invalid");
  if (!form.service.value) return refuse(form.service, settings.messageChooseService);
  if (!form.start.value) return refuse(form.start, settings.messageChooseTime);
  const contact = {};
  if (form.email.value.trim()) contact.email = form.email.value.trim();
  if (form.phone.value.trim()) contact.phone = form.phone.value.trim();
  sending = true;
  problem.textContent = "";
  try {
    const response = await fetch(settings.api, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
      body: JSON.stringify({ service: Number(form.service.value), start: form.start.value,
                             language: form.language.value, contact }),
    });
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      showBooked(answer);
      readUpcoming();
    } else {
      const error = answer.error || {};
      const field = form[FIELD_OF[error.code] || "start"];
      refuse(field, error.message || response.statusText);
      if (error.code === "slot_full") showSlots();  // that time is gone: show what is left
    }
  } finally {
    sending = false;
  }
});

renderUpcoming(JSON.parse(section.querySelector("[data-upcoming-initial]").textContent));
setInterval(readUpcoming, REFRESH_SECONDS * 1000);
