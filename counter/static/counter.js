// The counter workstation: one-click actions, keyboard shortcuts, and a live waiting list.
// Texts come from data-* attributes rendered through Babel.

import { latest } from "../static/latest.js";
import { live } from "../static/live.js";

const page = document.querySelector("[data-workstation]");
const status = page.querySelector("[data-status]");
const csrfToken = document.querySelector("meta[name=csrf-token]").content;
const needLabels = JSON.parse(page.dataset.needLabels);
const stateLabels = JSON.parse(page.dataset.stateLabels);
const apiBase = page.dataset.api;
const SHORTCUTS = { n: "call-next", r: "recall", s: "start", x: "no-show", f: "finish" };

function field(name) {
  return page.querySelector(`[data-field="${name}"]`);
}

function needsText(needs) {
  return needs.length ? needs.map((need) => needLabels[need] || need).join(", ") : "–";
}

// While an action is on its way every button is disabled, so that a key pressed too
// early is refused visibly rather than dropped behind a button that looks ready.
let acting = false;
let shown = null;

function render(view) {
  shown = view;
  const current = view.current;
  field("number").textContent = current ? current.ticket.number : "–";
  field("service").textContent = current ? current.step.service : "–";
  field("state").textContent = current ? stateLabels[current.step.state] : "–";
  field("language").textContent = current ? current.ticket.language : "–";
  field("needs").textContent = current ? needsText(current.ticket.needs) : "–";
  field("waited").textContent = current ? `${current.step.waited_minutes} min` : "–";
  field("journey").textContent = current
    ? current.ticket.journey.map((step) => `${step.service} (${stateLabels[step.state]})`).join(" → ")
    : "–";
  field("note").textContent = (current && current.step.note) || "–";
  const state = current ? current.step.state : null;
  for (const button of page.querySelectorAll("[data-action]")) {
    const action = button.dataset.action;
    button.disabled = acting || {
      "call-next": state !== null || view.counter.status !== "open",
      recall: state !== "called", start: state !== "called", "no-show": state !== "called",
      finish: state !== "serving",
      pause: view.counter.status !== "open" || state === "serving",
      resume: view.counter.status !== "paused",
      close: view.counter.status === "closed" || state === "serving",
    }[action];
  }
  page.querySelector("[data-refer] button").disabled = acting || state === null;

  field("waiting-count").textContent = String(view.waiting.length);
  const body = page.querySelector("[data-waiting]");
  body.replaceChildren(...view.waiting.map((row) => {
    const line = document.createElement("tr");
    for (const text of [row.number, row.service, `${row.waited_minutes} min`, row.language,
                        needsText(row.needs)]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      line.append(cell);
    }
    return line;
  }));
}

const refresh = latest(apiBase, render);

async function act(action, body = {}) {
  if (acting) return;  // one request at a time: a double click is one action
  acting = true;
  page.setAttribute("aria-busy", "true");
  render(shown);
  try {
    await send(action, body);
  } finally {
    acting = false;
    page.removeAttribute("aria-busy");
    render(shown);
  }
}

async function send(action, body) {
  status.textContent = "";
  const response = await fetch(`${apiBase}/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    body: JSON.stringify(body),
  });
  if (response.status === 204) {
    const held = Number(response.headers.get("X-Held") || 0);
    status.textContent = held
      ? page.dataset.messageHeld.replace("{count}", String(held))
      : page.dataset.messageNobody;
  } else if (!response.ok) {
    // Another desk was faster, a wrong state...: the server says what happened.
    const answer = await response.json().catch(() => ({}));
    status.textContent = (answer.error && answer.error.message) || response.statusText;
  }
  await refresh();
}

page.addEventListener("click", (event) => {
  const button = event.target.closest("[data-action]");
  if (button && !button.disabled) act(button.dataset.action);
});

page.querySelector("[data-refer]").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  act("refer", { service: Number(form.service.value), note: form.note.value });
  form.note.value = "";
});

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target.closest("input, select, textarea")) return;
  const action = SHORTCUTS[event.key.toLowerCase()];
  const button = action && page.querySelector(`[data-action="${action}"]`);
  if (button && !button.disabled) {
    event.preventDefault();
    if (action === "no-show" && !window.confirm(page.dataset.messageConfirmNoShow)) return;
    act(action);
  }
});

render(JSON.parse(page.querySelector("[data-initial]").textContent));

live({
  rooms: [`counter:${page.dataset.counter}`, `staff:${page.dataset.site}`],
  refresh,
  hints: ["queue_changed", "counter_changed", "called"],
  onConnection: (connected) => { status.textContent = connected ? "" : page.dataset.messageOffline; },
});
