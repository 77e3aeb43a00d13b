// The kiosk's behaviour: issuing a ticket or checking in (with retries), the idle warning,
// read-aloud.
// Texts come from data-* attributes rendered through Babel, so this file has no strings.

import { speak, voiceFor } from "../static/sound.js";

function setupIdle(frame) {
  // WCAG 2.2.1: warn before the timeout and let the visitor extend it.
  const idleSeconds = Number(frame.dataset.idleSeconds || 60);
  const warningSeconds = Number(frame.dataset.idleWarningSeconds || 20);
  const startUrl = frame.dataset.startUrl;
  const dialog = document.querySelector(".idle-warning");
  const text = dialog.querySelector("#idle-text");
  const extend = dialog.querySelector("[data-idle-extend]");
  let idleTimer = null;
  let countdownTimer = null;
  let remaining = 0;

  function restart() {
    clearTimeout(idleTimer);
    clearInterval(countdownTimer);
    dialog.hidden = true;
    idleTimer = setTimeout(warn, idleSeconds * 1000);
  }

  function warn() {
    remaining = warningSeconds;
    render();
    dialog.hidden = false;
    extend.focus();
    countdownTimer = setInterval(() => {
      remaining -= 1;
      if (remaining <= 0) {
        clearInterval(countdownTimer);
        window.location.replace(startUrl);
      } else {
        render();
      }
    }, 1000);
  }

  function render() {
    text.textContent = text.dataset.template.replace("{seconds}", String(remaining));
  }

  extend.addEventListener("click", restart);
  for (const kind of ["pointerdown", "keydown", "input", "scroll"]) {
    document.addEventListener(kind, () => { if (dialog.hidden) restart(); }, { passive: true });
  }
  restart();
}

function newKey() {
  // crypto.randomUUID needs a secure context; a kiosk on a plain-http LAN address has not.
  return crypto.randomUUID ? crypto.randomUUID()
    : [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function poster(form, url, headers, onRefused) {
  // Posts until the server answers: a lost network or a 5xx is retried with backoff, which
  // is safe because each request is idempotent (a key, or the appointment's own ticket).
  const status = form.querySelector("[data-form-status]");
  const submit = form.querySelector("button[type=submit]");
  let retryDelay = 1000;

  async function send(body) {
    submit.disabled = true;
    status.textContent = form.dataset.messageBusy;
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "Accept-Language": form.dataset.language,  // errors come back in the visitor's language
          "X-Kiosk": form.dataset.kiosk,
          ...headers,
        },
        body: JSON.stringify(body),
      });
    } catch {
      return retry(body);  // the network is down: the ticket may or may not exist yet
    }
    if (response.status >= 500) return retry(body);
    const answer = await response.json().catch(() => ({}));
    if (response.status === 201) {
      // Only a committed ticket is shown: the next page reads it back from the server.
      // replace: the next visitor cannot go back to this ticket (and its cancel button).
      window.location.replace(form.dataset.ticketUrl.replace("TOKEN", answer.token));
      return;
    }
    submit.disabled = false;
    status.textContent = (answer.error && answer.error.message) || form.dataset.messageOffline;
    onRefused(answer.error || {});
  }

  function retry(body) {
    status.textContent = form.dataset.messageOffline;
    setTimeout(() => send(body), retryDelay);
    retryDelay = Math.min(retryDelay * 2, 15000);
  }

  return send;
}

function setupIssueForm(form) {
  const status = form.querySelector("[data-form-status]");
  const maximum = Number(form.dataset.maxServices);
  // One key per visit to this screen: a retry after a lost answer is the same ticket.
  const send = poster(form, form.dataset.issueUrl, { "Idempotency-Key": newKey() }, () => {});

  form.addEventListener("change", (event) => {
    if (event.target.name !== "services") return;
    const chosen = form.querySelectorAll("input[name=services]:checked");
    if (chosen.length > maximum) {
      event.target.checked = false;
      status.textContent = form.dataset.messageTooMany;
    } else {
      status.textContent = "";
    }
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const services = [...form.querySelectorAll("input[name=services]:checked")]
      .map((input) => Number(input.value));
    if (services.length === 0) {
      status.textContent = form.dataset.messageChoose;
      return;
    }
    const needs = [...form.querySelectorAll("input[name=needs]:checked")].map((input) => input.value);
    send({ services, needs, language: form.dataset.language });
  });
}

function setupCheckInForm(form) {
  const status = form.querySelector("[data-form-status]");
  const code = form.querySelector("input[name=code]");
  const walkIn = form.querySelector("[data-walk-in]");
  // Too late for the appointment: offer a walk-in ticket instead.
  const send = poster(form, form.dataset.checkInUrl, {}, (error) => {
    walkIn.hidden = error.code !== "too_late";
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    walkIn.hidden = true;
    if (!code.value.trim()) {
      status.textContent = form.dataset.messageEmpty;
      code.focus();
      return;
    }
    send({ code: code.value });
  });
}

function setupReadAloud(button) {
  const status = document.querySelector("[data-voice-status]");
  const audio = document.querySelector("[data-read-aloud-audio]");
  const language = button.dataset.language;

  function browserVoice() {
    // The server has no voice for the language: the browser's, if it has one.
    if (!voiceFor(language)) {
      // Silence without a word would look like a broken button: say there is no voice.
      status.textContent = button.dataset.messageNoVoice;
      return;
    }
    speechSynthesis.cancel();  // a second click starts over instead of queueing the text again
    speak(button.dataset.text, language, { rate: 0.9 });
  }

  // The hall's voices (tessera/voice), rendered on the server: the same on every
  // kiosk, with no browser voices needed.
  audio.addEventListener("error", browserVoice);
  button.addEventListener("click", () => {
    status.textContent = "";
    audio.src = button.dataset.audioUrl;  // a second click starts over
    audio.play().catch((error) => { if (error.name !== "AbortError") browserVoice(); });
  });
}

function setupTicketCountdown(box) {
  // The ticket screen shows a QR code that can cancel the ticket: the next visitor must not
  // find it. Back to the start after a short time, counted down on screen; "Keep this
  // screen" stops the count (the kiosk's idle timeout still applies).
  const text = box.querySelector("[data-countdown-text]");
  const keep = box.querySelector("[data-countdown-keep]");
  const startUrl = document.querySelector(".kiosk-frame").dataset.startUrl;
  let remaining = Number(box.dataset.seconds || 15);
  const render = () => {
    text.textContent = text.dataset.template.replace("{seconds}", String(remaining));
  };
  render();
  const timer = setInterval(() => {
    remaining -= 1;
    if (remaining <= 0) {
      clearInterval(timer);
      window.location.replace(startUrl);
    } else {
      render();
    }
  }, 1000);
  keep.addEventListener("click", () => {
    clearInterval(timer);
    box.hidden = true;
  });
}

function watchPrinter(notice) {
  // The ticket prints in the background; if this ticket's printing fails, say so, so
  // the visitor keeps this screen's number and QR code instead. A retry that prints it
  // after all hides the notice again. One minute covers a printer's connection timeout.
  let checks = 0;
  const timer = setInterval(async () => {
    checks += 1;
    if (checks >= 30) clearInterval(timer);
    const response = await fetch(notice.dataset.printerUrl, { cache: "no-store" }).catch(() => null);
    if (!response || !response.ok) return;
    const printer = await response.json();
    notice.hidden = printer.ticket !== "failed";
    if (printer.ticket === "printed") clearInterval(timer);
  }, 2000);
}

const frame = document.querySelector(".kiosk-frame");
if (frame) setupIdle(frame);
const form = document.querySelector("[data-issue-form]");
if (form) setupIssueForm(form);
const checkInForm = document.querySelector("[data-check-in-form]");
if (checkInForm) setupCheckInForm(checkInForm);
const printerNotice = document.querySelector("[data-printer-notice]");
if (printerNotice) watchPrinter(printerNotice);
const readAloud = document.querySelector("[data-read-aloud]");
if (readAloud) setupReadAloud(readAloud);
const ticketCountdown = document.querySelector("[data-ticket-countdown]");
if (ticketCountdown) setupTicketCountdown(ticketCountdown);
