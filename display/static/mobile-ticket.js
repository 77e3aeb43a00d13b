// The mobile ticket: live over Socket.IO, re-reading the status on every hint or reconnect.
// Texts come from data-* attributes rendered through Babel.

import { latest } from "../static/latest.js";

const page = document.querySelector("[data-mobile-ticket]");
const stateLabels = JSON.parse(page.dataset.stateLabels);
const banner = page.querySelector("[data-call-banner]");
const connection = page.querySelector("[data-connection-status]");
const cancelButton = page.querySelector("[data-cancel]");

function field(name) {
  return page.querySelector(`[data-field=${name}]`);
}

function render(status) {
  field("state").textContent = stateLabels[status.state] || status.state;
  field("position").textContent = status.position === null ? "–" : String(status.position);
  const estimate = field("estimate");
  estimate.textContent = status.estimated_wait_minutes === null
    ? estimate.dataset.unknown
    : estimate.dataset.minutes.replace("{minutes}", String(status.estimated_wait_minutes));
  if (status.counter && status.state === "called") {
    banner.textContent = page.dataset.messageCalled.replace("{counter}", status.counter.name);
    banner.hidden = false;
  } else {
    banner.hidden = true;
  }
  cancelButton.hidden = !["waiting", "called"].includes(status.state);
}

const refresh = latest(page.dataset.statusUrl, render);

function alertVisitor() {
  // Sound and vibration where the phone allows; the banner is there either way.
  if (navigator.vibrate) navigator.vibrate([300, 150, 300, 150, 300]);
  try {
    const audio = new AudioContext();
    for (const [index, frequency] of [660, 880].entries()) {
      const tone = audio.createOscillator();
      tone.frequency.value = frequency;
      tone.connect(audio.destination);
      tone.start(audio.currentTime + index * 0.35);
      tone.stop(audio.currentTime + index * 0.35 + 0.3);
    }
  } catch {
    // No audio without a prior touch on some phones: the banner and vibration remain.
  }
}

const socket = io("/live", { transports: ["websocket", "polling"] });
socket.on("connect", () => {
  connection.textContent = "";
  socket.emit("join", { room: `ticket:${page.dataset.token}` });
  // The hall's room too: when others are called, this ticket moves up.
  socket.emit("join", { room: `site:${page.dataset.site}` });
  refresh();
});
socket.on("disconnect", () => { connection.textContent = page.dataset.messageOffline; });
socket.on("called", (call) => {
  // The hall's room hears every call: only this ticket's own call alerts the phone.
  if (call.ticket === page.dataset.number) alertVisitor();
  refresh();
});
socket.on("ticket_changed", refresh);
let queueRefresh = null;
socket.on("queue_changed", () => {
  // Many changes can arrive at once in a busy hall: re-read at most once a second.
  if (queueRefresh === null) queueRefresh = setTimeout(() => { queueRefresh = null; refresh(); }, 1000);
});

cancelButton.addEventListener("click", async () => {
  if (!window.confirm(page.dataset.messageConfirmCancel)) return;
  const response = await fetch(page.dataset.cancelUrl, { method: "POST" });
  if (response.ok) render(await response.json());
});
