// The hall's call display: live calls, a chime, a flash and a spoken announcement per call.
// Announcements are WAV files rendered on the server (tessera/voice), so every
// display speaks the same way with no network and no browser voices. They queue: two desks
// calling at once give two complete announcements, one after the other. Without a voice for
// the visitor's language, the chime, the visual call and the site language's announcement
// still happen.

import { latest } from "../static/latest.js";
import { live } from "../static/live.js";
import { speak, tones } from "../static/sound.js";

const screen = document.querySelector("[data-hall]");
const texts = JSON.parse(screen.querySelector("[data-texts]").textContent);
const voiced = new Set(JSON.parse(screen.querySelector("[data-voiced]").textContent));
const siteLanguage = screen.dataset.siteLanguage;
const callsBody = screen.querySelector("[data-calls]");
const announcer = screen.querySelector("[data-announcer]");
const voice = screen.querySelector("[data-voice]");
const soundBlocked = screen.querySelector("[data-sound-blocked]");
const shownCalls = Number(screen.dataset.rows) || 5;
// At most three languages take turns for the fixed texts (the site's and those of the
// visitors being called), each long enough to be read from the back of the hall.
const ROTATION_LANGUAGES = 3;
const ROTATE_SECONDS = 12;
// A file that neither ends nor fails within this long (a stalled network) is given up.
const PLAY_TIMEOUT_MS = 20000;

let shownLanguage = siteLanguage;
let calls = [];  // newest first; one entry per step, its latest call or recall
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

function latestPerStep(list) {
  // A recall updates its ticket's row (and flashes it again) rather than adding one.
  const seen = new Set();
  return list.filter((call) => !seen.has(call.step_id) && seen.add(call.step_id));
}

function rotation() {
  const languages = [siteLanguage];
  for (const call of calls.slice(0, shownCalls)) {
    if (texts[call.language] && !languages.includes(call.language)) languages.push(call.language);
  }
  return languages.slice(0, ROTATION_LANGUAGES);
}

function renderTexts() {
  const shown = texts[shownLanguage];
  for (const element of screen.querySelectorAll("[data-text]")) {
    element.textContent = shown[element.dataset.text];
    element.lang = shownLanguage;
    element.dir = shown.direction;
  }
  // The sections take the language's direction too, so cells align with their headers.
  for (const section of screen.querySelectorAll("[data-localised]")) {
    section.lang = shownLanguage;
    section.dir = shown.direction;
  }
  document.title = shown.site_name;
}

function isolated(text, className, direction = "auto") {
  // <bdi>: a number or a Latin name inside Arabic text keeps its own order, and the text
  // around it keeps its own.
  const element = document.createElement("bdi");
  element.textContent = text;
  element.dir = direction;
  if (className) element.className = className;
  return element;
}

function renderCalls(flashStep = null) {
  callsBody.replaceChildren(...calls.slice(0, shownCalls).map((call, index) => {
    const row = document.createElement("tr");
    row.dataset.step = call.step_id;
    if (index === 0) row.classList.add("newest");
    if (call.step_id === flashStep) row.classList.add("flash");
    const number = document.createElement("td");
    // Isolated left to right inside the cell: the cell itself keeps the page's alignment.
    number.append(isolated(call.ticket, "call-number", "ltr"));
    const desk = document.createElement("td");
    desk.append(isolated(counterName(call.counter, shownLanguage), "call-desk"));
    row.append(number, desk);
    return row;
  }));
}

const refreshWaits = latest(() => `${screen.dataset.waitsUrl}?language=${shownLanguage}`,
                            renderWaits);

function figure(label, value, valueClass) {
  const line = document.createElement("span");
  line.className = "wait-figure";
  const name = document.createElement("span");
  name.className = "wait-label";
  name.textContent = label;
  line.append(name, isolated(value, valueClass));
  return line;
}

// The manager's message line: plain text as typed (textContent, never HTML), shown in
// every language and only while there is one. It comes with the queues, so every hint
// and every reconnect that re-reads them brings it up to date.
const messageLine = screen.querySelector("[data-hall-message]");

function renderMessage(message) {
  const text = message || "";
  if (messageLine.textContent !== text) messageLine.textContent = text;
  messageLine.hidden = text === "";
}

function renderWaits(body) {
  if ("hall_message" in body) renderMessage(body.hall_message);
  const list = screen.querySelector("[data-waits]");
  const shown = texts[shownLanguage];
  list.replaceChildren(...body.services.map((service) => {
    const item = document.createElement("li");
    const title = document.createElement("span");
    title.className = "wait-service";
    title.append(isolated(service.prefix, "wait-prefix", "ltr"), isolated(service.name, "wait-name"));
    const estimate = service.estimated_wait_minutes === null ? "–"
      : shown.minutes.replace("{minutes}", service.estimated_wait_minutes);
    item.append(title, figure(shown.people_waiting, String(service.waiting), "wait-count"),
                figure(shown.estimated_wait, estimate, "wait-estimate"));
    return item;
  }));
}

const refreshCalls = latest(screen.dataset.callsUrl, (body) => {
  calls = latestPerStep(body.calls);  // shows calls missed while disconnected
  renderCalls();
});

function chime() {
  tones([523, 659, 784], { spacing: 0.25, length: 0.4, volume: 0.2 });
  // The voice starts once the chime has rung out, with or without an audio device.
  return new Promise((resolve) => setTimeout(resolve, 1000));
}

function announcementUrl(call, language) {
  return screen.dataset.announcementUrl
    .replace("LANGUAGE", encodeURIComponent(language))
    .replace("TICKET", encodeURIComponent(call.ticket))
    .replace("COUNTER", encodeURIComponent(call.counter.key));
}

function play(url) {
  // Resolves true once the file has played to its end, false if it could not be played.
  return new Promise((resolve) => {
    let settled = false;
    const settle = (played) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      voice.removeEventListener("ended", onEnded);
      voice.removeEventListener("error", onError);
      resolve(played);
    };
    const onEnded = () => settle(true);
    const onError = () => settle(false);
    const timer = setTimeout(() => settle(false), PLAY_TIMEOUT_MS);
    voice.addEventListener("ended", onEnded);
    voice.addEventListener("error", onError);
    voice.src = url;
    voice.play().then(() => { soundBlocked.hidden = true; }).catch((error) => {
      // Autoplay refused until someone touches the screen: say so where staff can see it.
      if (error.name === "NotAllowedError") soundBlocked.hidden = false;
      settle(false);
    });
  });
}

async function announceNext() {
  if (speaking || queue.length === 0) return;
  speaking = true;
  const call = queue.shift();
  const record = { ticket: call.ticket, counter: call.counter.key, spoken: [] };
  window.tesseraAnnouncements.push(record);
  await chime();
  // The visitor's language first, then the site language; a language without a voice on
  // the server is skipped, so its visitors hear the site language.
  for (const language of [...new Set([call.language, siteLanguage])]) {
    if (!texts[language]) continue;
    const text = texts[language].announcement
      .replace("{number}", spokenNumber(call.ticket))
      .replace("{counter}", counterName(call.counter, language));
    announcer.textContent = text;
    const entry = { language, text, url: null, played: false, voice: false };
    record.spoken.push(entry);
    if (voiced.has(language)) {
      entry.url = announcementUrl(call, language);
      entry.played = await play(entry.url);
    }
    // The browser's own voice, where it has one, when the server's file could not play.
    if (!entry.played) entry.voice = await speak(text, language, { giveUpAfter: 15000 });
  }
  speaking = false;
  announceNext();
}

function onCall(call) {
  calls = [call, ...calls.filter((c) => c.step_id !== call.step_id)];
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
  const languages = rotation();
  const next = languages[(languages.indexOf(shownLanguage) + 1) % languages.length];
  if (next === shownLanguage) return;
  shownLanguage = next;
  renderTexts();
  renderCalls();
  refreshWaits();
}, ROTATE_SECONDS * 1000);
setInterval(tick, 10000);
tick();
renderTexts();
// A touch lets the browser play sound from now on: the warning has done its job.
document.addEventListener("pointerdown", () => { soundBlocked.hidden = true; });

const room = screen.dataset.zone ? `site:${screen.dataset.site}:${screen.dataset.zone}`
  : `site:${screen.dataset.site}`;
const offline = screen.querySelector("[data-offline]");
live({
  rooms: [room],
  refresh: () => { refreshCalls(); refreshWaits(); },
  on: { called: onCall, queue_changed: refreshWaits },
  onConnection: (connected) => { offline.hidden = connected; },
});
