// The booking form's proof of work: the vendored ALTCHA widget, speaking the page's language
// with Tessera's own translated strings, and solving a fresh challenge by itself whenever the
// one it solved expires, so a visitor who takes their time has nothing to do either.
import "./vendor/altcha.min.js";

const strings = JSON.parse(document.getElementById("booking-challenge-strings").textContent);

for (const widget of document.querySelectorAll("altcha-widget")) {
  const language = widget.getAttribute("language");
  // English fills in what the page does not translate (strings of features we do not use).
  globalThis.$altcha.i18n.set(language, { ...globalThis.$altcha.i18n.get("en"), ...strings });
  widget.addEventListener("expired", () => {
    widget.reset();
    widget.verify();
  });
}
