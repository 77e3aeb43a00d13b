// The kiosk's feedback terminal: the faces and chips of tessera/static/feedback.js, sent
// with the kiosk's pairing cookie (so it counts as given at a kiosk); after the thank-you
// the terminal goes back to its first screen for the next visitor.

import { setupFeedback, showThanks } from "../static/feedback.js";

const terminal = document.querySelector("[data-feedback-terminal]");
const form = terminal && terminal.querySelector("[data-feedback-form]");

function backToStart() {
  window.location.replace(terminal.dataset.startUrl);
}

if (form) {
  const thanks = terminal.querySelector("[data-feedback-thanks]");
  const seconds = Number(terminal.dataset.resetSeconds || 8);
  setupFeedback(form, {
    onSent: () => {
      showThanks(form, thanks);
      setTimeout(backToStart, seconds * 1000);
    },
  });
  // Feedback already given (a second visit to the terminal): thanks, then the start.
  if (form.hidden) setTimeout(backToStart, seconds * 1000);
} else if (terminal) {
  const field = terminal.querySelector("input[name=ticket]");
  // A QR code scanner types into the focused field and presses Enter: be ready for it.
  if (field) field.focus();
}
