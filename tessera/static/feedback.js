// "How was your visit?" (tessera/templates/feedback_form.html): one face of five, optional
// reason chips, then one POST to the API. A ticket that already has feedback counts as
// sent, so a second tab or a double tap ends in the same thank-you.
// Texts come from data-* attributes rendered through Babel, so this file has no strings.

const RETRY_STATUSES = new Set([502, 503, 504]);

function pressed(button) {
  return button.getAttribute("aria-pressed") === "true";
}

export function setupFeedback(form, { url = () => form.dataset.url, headers = {},
  onSent = () => {} } = {}) {
  const status = form.querySelector("[data-feedback-status]");
  const faces = [...form.querySelectorAll("[data-score]")];
  const chips = [...form.querySelectorAll("[data-reason]")];
  const send = form.querySelector("button[type=submit]");
  let sending = false;

  for (const face of faces) {
    face.addEventListener("click", () => {
      // Like a radio group: one face at a time, and pressing it again keeps it chosen.
      for (const other of faces) other.setAttribute("aria-pressed", String(other === face));
      status.textContent = "";
    });
  }
  for (const chip of chips) {
    chip.addEventListener("click", () => {
      chip.setAttribute("aria-pressed", String(!pressed(chip)));
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return;  // a double tap sends once
    const face = faces.find(pressed);
    if (!face) {
      status.textContent = form.dataset.messageChoose;
      faces[0].focus();
      return;
    }
    sending = true;
    send.disabled = true;
    status.textContent = form.dataset.messageBusy;
    const body = { score: Number(face.dataset.score),
      reasons: chips.filter(pressed).map((chip) => chip.dataset.reason) };
    let response = null;
    try {
      response = await fetch(url(), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json",
          "Accept-Language": form.dataset.language, ...headers },
        body: JSON.stringify(body),
      });
    } catch {
      response = null;
    }
    sending = false;
    send.disabled = false;
    if (response === null || RETRY_STATUSES.has(response.status)) {
      status.textContent = form.dataset.messageOffline;
      return;
    }
    const answer = await response.json().catch(() => ({}));
    const code = answer.error && answer.error.code;
    if (response.ok || code === "feedback_given") {
      status.textContent = "";
      onSent(answer);
      return;
    }
    status.textContent = (answer.error && answer.error.message) || form.dataset.messageOffline;
  });

  return {
    // Ready for the next visitor (the kiosk terminal): no face, no chip, no message.
    reset() {
      for (const button of [...faces, ...chips]) button.setAttribute("aria-pressed", "false");
      status.textContent = "";
    },
  };
}

export function showThanks(form, thanks) {
  // Focus moves to the thank-you so a screen reader reads it and the keyboard is not lost.
  form.hidden = true;
  thanks.hidden = false;
  thanks.focus();
}
