// The booking pages' small enhancements (everything works without them): the hold's
// remaining time, counted down, and the form closed when the hold has lapsed.
// Texts come from data-* attributes rendered through Babel, so this file has no strings.

function countDown(notice) {
  const text = notice.querySelector("[data-hold-text]");
  const ends = Date.now() + Number(notice.dataset.seconds) * 1000;
  const clock = document.createElement("span");
  clock.dir = "ltr";
  clock.className = "hold-clock";
  clock.setAttribute("aria-hidden", "true");  // a number changing each second is noise to a screen reader
  notice.append(clock);

  function tick() {
    const left = Math.max(Math.round((ends - Date.now()) / 1000), 0);
    clock.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
    if (left > 0) return;
    clearInterval(timer);
    clock.remove();
    text.textContent = notice.dataset.messageExpired;
    notice.setAttribute("role", "alert");
  }

  const timer = setInterval(tick, 1000);
  tick();
}

const hold = document.querySelector("[data-hold]");
if (hold) countDown(hold);
