// The live pages' Socket.IO connection. Events are only hints that something changed, and
// a page misses every hint while it is disconnected: so a page joins its rooms and re-reads
// its state over HTTP on every (re)connect, and again on every hint.
// Needs the Socket.IO client (vendor/socket.io.min.js) loaded as a classic script first.

/**
 * Connects to the `/live` namespace and returns the socket.
 *
 * - `rooms`: the rooms to join, again on every reconnect (the server forgets them).
 * - `refresh`: re-reads the page's state; called on every (re)connect.
 * - `hints`: event names that mean "re-read"; each calls `onHint` (by default `refresh`).
 * - `on`: handlers of their own for other events, by event name.
 * - `onConnection(connected)`: told of every connect (true) and disconnect (false).
 */
export function live({ rooms, refresh, hints = [], onHint = refresh, on = {},
                       onConnection = () => {} }) {
  const socket = io("/live", { transports: ["websocket", "polling"] });
  socket.on("connect", () => {
    onConnection(true);
    for (const room of rooms) socket.emit("join", { room });
    refresh();
  });
  socket.on("disconnect", () => onConnection(false));
  for (const event of hints) socket.on(event, onHint);
  for (const [event, handler] of Object.entries(on)) socket.on(event, handler);
  return socket;
}
