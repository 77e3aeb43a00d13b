// The hall's call display: live calls, a chime, a flash and a spoken announcement per call.
// Announcements queue, so two desks calling at once give two announcements, none cut off.
// Without a voice for a language, the chime and the visual call still happen.

import { latest } from "../static/latest.js";

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

let audio = null;

function chime() {
  return new Promise((resolve) => {
    try {
      audio = audio || new AudioContext();  // one context all day: browsers limit them
      [523, 659, 784].forEach((frequency, index) => {
        const tone = audio.createOscillator();
        const volume = audio.createGain();
        volume.gain.value = 0.2;
        tone.frequency.value = frequency;
        tone.connect(volume).connect(audio.destination);
        tone.start(audio.currentTime + index * 0.25);
        tone.stop(audio.currentTime + index * 0.25 + 0.4);
      });
    } catch {
      // No audio device: the visual call still happens.
    }
    setTimeout(resolve, 1000);
  });
}

function voiceFor(language) {
  if (!("speechSynthesis" in window)) return null;
  return speechSynthesis.getVoices().find(
    (voice) => voice.lang.toLowerCase().split(/[-_]/)[0] === language) || null;
}

function speak(text, language) {
  return new Promise((resolve) => {
    const voice = voiceFor(language);
    if (!voice) { resolve(false); return; }
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.voice = voice;
    utterance.lang = voice.lang;
    // Some browsers never fire onend: give up after a while so the queue goes on.
    const timeout = setTimeout(() => { speechSynthesis.cancel(); resolve(false); }, 15000);
    utterance.onend = () => { clearTimeout(timeout); resolve(true); };
    utterance.onerror = () => { clearTimeout(timeout); resolve(false); };
    speechSynthesis.speak(utterance);
  });
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
    record.spoken.push({ language, text, voice: await speak(text, language) });
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
const socket = io("/live", { transports: ["websocket", "polling"] });
socket.on("connect", () => {
  screen.querySelector("[data-offline]").hidden = true;
  socket.emit("join", { room });
  refreshCalls();
  refreshWaits();
});
socket.on("disconnect", () => { screen.querySelector("[data-offline]").hidden = false; });
socket.on("called", onCall);
socket.on("queue_changed", refreshWaits);
