// The accessibility bar of the visitors' pages (tessera/templates/accessibility_bar.html):
// larger text and high contrast as classes on <html>, and the page's main text read aloud.
// Texts come from data-* attributes rendered through Babel, so this file has no strings.

import { speak, voiceFor } from "./sound.js";

const STORAGE_KEY = "tessera-accessibility";

function remembered(bar) {
  // Only where the page asks for it (a visitor's own phone), never on a shared kiosk.
  if (bar.dataset.remember !== "yes") return [];
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
  } catch {
    return [];  // storage blocked or a value we did not write: start plain
  }
}

function remember(bar, settings) {
  if (bar.dataset.remember !== "yes") return;
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(settings));
  } catch {
    // Private mode may refuse storage: the choice still holds on this page.
  }
}

function setupBar(bar) {
  const root = document.documentElement;
  const buttons = [...bar.querySelectorAll("[data-setting]")];
  const status = bar.querySelector("[data-accessibility-status]");

  function apply(settings) {
    for (const button of buttons) {
      const on = settings.includes(button.dataset.setting);
      root.classList.toggle(button.dataset.setting, on);
      button.setAttribute("aria-pressed", String(on));
    }
  }

  function chosen() {
    return buttons.filter((button) => button.getAttribute("aria-pressed") === "true")
      .map((button) => button.dataset.setting);
  }

  for (const button of buttons) {
    button.addEventListener("click", () => {
      const settings = chosen().filter((setting) => setting !== button.dataset.setting);
      if (button.getAttribute("aria-pressed") !== "true") settings.push(button.dataset.setting);
      apply(settings);
      remember(bar, settings);
    });
  }

  const reader = bar.querySelector("[data-read-page]");
  if (!("speechSynthesis" in window)) {
    reader.hidden = true;  // nothing could ever be read aloud here
  } else {
    reader.addEventListener("click", () => {
      const language = root.lang.split(/[-_]/)[0];
      if (!voiceFor(language)) {
        status.textContent = bar.dataset.messageNoVoice;
        return;
      }
      status.textContent = "";
      speechSynthesis.cancel();  // a second click starts over instead of queueing the text
      const main = document.querySelector("main");
      speak((main || document.body).innerText, language, { rate: 0.9 });
    });
  }

  apply(remembered(bar));
  bar.hidden = false;
}

const bar = document.querySelector("[data-accessibility-bar]");
if (bar) setupBar(bar);
