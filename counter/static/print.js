// The appointment slip prints itself once, as soon as it is open; its Print button prints again.

const button = document.querySelector("[data-print]");
button.addEventListener("click", () => window.print());
window.addEventListener("load", () => window.print(), { once: true });
