// Tells the server that this desk's workstation page is still open, so that a desk whose
// page has gone (a closed tab, a lost network, a crashed browser) is paused by the server
// instead of being waited for. Joining the desk's room counts as a sign of life; then a
// heartbeat goes on every ping from the server, which arrives even in a background tab
// whose timers the browser slows to once a minute, and on a timer well within the time
// after which the desk is paused (the script tag's data-absent-seconds).

import { live } from "../static/live.js";

const settings = document.querySelector("script[data-presence]").dataset;
const desk = document.querySelector("[data-workstation]").dataset.counter;
const socket = live({ rooms: [`counter:${desk}`], refresh: () => {} });

function beat() {
  if (socket.connected) socket.emit("heartbeat", {});
}

socket.io.on("ping", beat);
setInterval(beat, Math.max(1, Number(settings.absentSeconds) / 3) * 1000);
