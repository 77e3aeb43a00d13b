// The mobile ticket: its own call arrives live over Socket.IO; the place in the queue is
// re-read on every hint about this ticket, on reconnect, and every half minute.
// Texts come from data-* attributes rendered through Babel.

import { setupFeedback, showThanks } from "../static/feedback.js";
import { latest } from "../static/latest.js";
import { live } from "../static/live.js";
import { tones, vibrate } from "../static/sound.js";

const page = document.querySelector("[data-mobile-ticket]");
const stateLabels = JSON.parse(page.dataset.stateLabels);
const banner = page.querySelector("[data-call-banner]");
const connection = page.querySelector("[data-connection-status]");
const cancelButton = page.querySelector("[data-cancel]");
const feedbackBlock = page.querySelector("[data-feedback-block]");
const feedbackForm = feedbackBlock.querySelector("[data-feedback-form]");
const feedbackThanks = feedbackBlock.querySelector("[data-feedback-thanks]");
// A step in one of these has ended; the visit has ended when all its steps have.
const ENDED = ["done", "no_show", "referred", "cancelled", "expired"];

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
  // The visit is over: ask how it was (or keep the thanks shown once it was told).
  const ended = status.journey.length > 0
    && status.journey.every((step) => ENDED.includes(step.state));
  if (ended && feedbackBlock.hidden) feedbackBlock.hidden = false;
}

setupFeedback(feedbackForm, { onSent: () => showThanks(feedbackForm, feedbackThanks) });

const refresh = latest(page.dataset.statusUrl, render);

function alertVisitor() {
  // Sound and vibration where the phone allows; the banner is there either way.
  vibrate([300, 150, 300, 150, 300]);
  tones([660, 880], { spacing: 0.35, length: 0.3 });
}

live({
  // Only this ticket's room: a phone in the hall's room would hear every call and re-read
  // its status after each, a thousand phones times every call in a busy centre.
  rooms: [`ticket:${page.dataset.token}`],
  refresh,
  hints: ["ticket_changed"],
  on: { called: () => { alertVisitor(); refresh(); } },
  onConnection: (connected) => {
    connection.textContent = connected ? "" : page.dataset.messageOffline;
  },
});
// The place moves up as others are called: re-read it now and then, at a moment of each
// phone's own so that a thousand phones do not ask at once.
setTimeout(() => setInterval(refresh, 30000), Math.random() * 30000);

const cancelStatus = page.querySelector("[data-cancel-status]");

cancelButton.addEventListener("click", async () => {
  if (!window.confirm(page.dataset.messageConfirmCancel)) return;
  cancelStatus.textContent = "";
  // The API's refusal comes in the page's language, so the visitor can read why.
  const response = await fetch(page.dataset.cancelUrl, {
    method: "POST", headers: { "Accept-Language": document.documentElement.lang },
  }).catch(() => null);
  if (response && response.ok) {
    render(await response.json());
    return;
  }
  // Refused (being served meanwhile, already finished) or no network: say why, never
  // nothing, and show the ticket as it is now (the button goes when leaving is not possible).
  const body = response ? await response.json().catch(() => null) : null;
  cancelStatus.textContent = body && body.error ? body.error.message : page.dataset.messageOffline;
  refresh();
});
