// The pairing screen of an unpaired kiosk or display: show the code, ask every few seconds
// whether an admin has typed it on /admin/devices, then open the device's page.
// The secret arrives as an HttpOnly cookie with the answer; this script never sees it.

const screen = document.querySelector("[data-pairing]");
if (screen) {
  const code = screen.querySelector("[data-pairing-code]");
  const seconds = Number(screen.dataset.pollSeconds || 3);

  async function poll() {
    try {
      const answer = await fetch(screen.dataset.pollUrl, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (answer.ok) {
        const state = await answer.json();
        if (state.paired) {
          window.location.assign(state.next);
          return;
        }
        if (state.code && code.textContent !== state.code) {
          code.textContent = state.code;  // the old code expired: a new one
        }
      }
    } catch {
      // Offline for a moment: ask again at the next turn.
    }
    setTimeout(poll, seconds * 1000);
  }

  setTimeout(poll, seconds * 1000);
}
