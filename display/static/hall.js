// The hall's call display: live calls, a chime, a flash and a spoken announcement per call.
// Announcements queue, so two desks calling at once give two announcements, none cut off.
// Without a voice for a language, the chime and the visual call still happen.

import { latest } from "../static/latest.js";
import { live } from "../static/live.js";
import { speak, tones } from "../static/sound.js";

const screen = document.querySelector("[data-hall]");
const texts = JSON.parse(screen.querySelector("[data-texts]").textContent);
const languages = Object.keys(texts);
const siteLanguage = screen.dataset.siteLanguage;
const callsBody = screen.querySelector("[data-calls]");
const announcer = screen.querySelector("[data-announcer]");
const SHOWN_CALLS = 8;
const ROTATE_SECONDS = 8;

let shownLanguage = siteLanguage;
let calls = [];  // newest first, as the server gives them
const queue = [];  // announcements waiting their turn
let speaking = false;
// For tests and troubleshooting: every announcement and how it was given.
window.tesseraAnnouncements = [];

function counterName(counter, language) {
  return counter.name[language] || counter.name[siteLanguage] || counter.key;
}

function spokenNumber(number) {
  // "A-042" reads better as "A 42" in every language's voice.
  const [prefix, sequence] = number.split("-");
  return `${prefix} ${Number(sequence)}`;
}

function renderTexts() {
  for (const element of screen.querySelectorAll("[data-text]")) {
    element.textContent = texts[shownLanguage][element.dataset.text];
    element.lang = shownLanguage;
    element.dir = texts[shownLanguage].direction;
  }
}

function renderCalls(flashStep = null) {
  callsBody.replaceChildren(...calls.slice(0, SHOWN_CALLS).map((call, index) => {
    const row = document.createElement("tr");
    if (index === 0) row.classList.add("newest");
    if (call.step_id === flashStep) row.classList.add("flash");
    const number = document.createElement("td");
    number.textContent = call.ticket;
    number.dir = "ltr";
    const desk = document.createElement("td");
    desk.textContent = counterName(call.counter, shownLanguage);
    row.append(number, desk);
    return row;
  }));
}

const refreshWaits = latest(() => `${screen.dataset.waitsUrl}?language=${shownLanguage}`,
                            renderWaits);

function renderWaits(body) {
  const list = screen.querySelector("[data-waits]");
  list.replaceChildren(...body.services.map((service) => {
    const item = document.createElement("li");
    const estimate = service.estimated_wait_minutes === null ? "–"
      : texts[shownLanguage].minutes.replace("{minutes}", service.estimated_wait_minutes);
    item.textContent = `${service.prefix} · ${service.name}: ${service.waiting} · ${estimate}`;
    return item;
  }));
}

const refreshCalls = latest(screen.dataset.callsUrl, (body) => {
  calls = body.calls;  // shows calls missed while disconnected
  renderCalls();
});

function chime() {
  tones([523, 659, 784], { spacing: 0.25, length: 0.4, volume: 0.2 });
  // The voice starts once the chime has rung out, with or without an audio device.
  return new Promise((resolve) => setTimeout(resolve, 1000));
}

async function announceNext() {
  if (speaking || queue.length === 0) return;
  speaking = true;
  const call = queue.shift();
  const record = { ticket: call.ticket, counter: call.counter.key, spoken: [] };
  window.tesseraAnnouncements.push(record);
  await chime();
  // The visitor's language first, then the site language.
  for (const language of [...new Set([call.language, siteLanguage])]) {
    if (!texts[language]) continue;
    const text = texts[language].announcement
      .replace("{number}", spokenNumber(call.ticket))
      .replace("{counter}", counterName(call.counter, language));
    announcer.textContent = text;
    record.spoken.push({ language, text, voice: await speak(text, language, { giveUpAfter: 15000 }) });
  }
  speaking = false;
  announceNext();
}

function onCall(call) {
  calls = [call, ...calls.filter((c) => !(c.step_id === call.step_id && c.recall === call.recall))];
  renderCalls(call.step_id);
  queue.push(call);
  announceNext();
  refreshWaits();
}

function tick() {
  screen.querySelector("[data-clock]").textContent =
    new Date().toLocaleTimeString(siteLanguage, {
      hour: "2-digit", minute: "2-digit", timeZone: screen.dataset.timezone,
    });
}

setInterval(() => {
  // The site's languages in turn for the fixed texts.
  shownLanguage = languages[(languages.indexOf(shownLanguage) + 1) % languages.length];
  renderTexts();
  renderCalls();
  refreshWaits();
}, ROTATE_SECONDS * 1000);
setInterval(tick, 10000);
tick();
renderTexts();

const room = screen.dataset.zone ? `site:${screen.dataset.site}:${screen.dataset.zone}`
  : `site:${screen.dataset.site}`;
const offline = screen.querySelector("[data-offline]");
live({
  rooms: [room],
  refresh: () => { refreshCalls(); refreshWaits(); },
  on: { called: onCall, queue_changed: refreshWaits },
  onConnection: (connected) => { offline.hidden = connected; },
});
