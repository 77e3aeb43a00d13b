"""Live updates over Socket.IO: rooms, and the publisher the engine calls after commits.

Events are hints (DESIGN invariant 5): a page that receives one, or that
(re)connects, re-reads the state over HTTP. Payloads carry ticket numbers and
desks, never names.
"""

import logging
import re
from contextlib import suppress

import socketio as python_socketio
from flask import g
from flask_login import current_user
from flask_socketio import SocketIO, disconnect, join_room, leave_room, rooms

from tessera.errors import NotFound
from tessera.models import Counter
from tessera.stores import stores
from tessera.web.auth import can_use_counter

logger = logging.getLogger(__name__)

NAMESPACE = "/live"
# Public rooms anyone may join: a site's hall (or one zone of it), and one mobile ticket.
PUBLIC_ROOM = re.compile(
    r"^(site:[a-z0-9_-]{1,64}(:[a-z0-9_-]{1,64})?|ticket:[A-Za-z0-9_-]{16,64})$")
# Staff rooms: a site's staff, and one counter's screen; only for signed-in staff.
STAFF_ROOM = re.compile(r"^staff:(?P<site>[a-z0-9_-]{1,64})$")
COUNTER_ROOM = re.compile(r"^counter:(?P<counter>[0-9]{1,12})$")


def may_join(room: str) -> bool:
    """Whether the connected client may join `room`."""
    if PUBLIC_ROOM.match(room):
        return True
    if not current_user.is_authenticated:
        return False
    staff_room = STAFF_ROOM.match(room)
    if staff_room:
        return staff_room["site"] == current_user.site_id
    counter_room = COUNTER_ROOM.match(room)
    if counter_room:
        with stores().database.session() as session:
            counter = session.get(Counter, int(counter_room["counter"]))
            return counter is not None and can_use_counter(current_user, counter)
    return False


def desk_seen(room: str) -> None:
    """If `room` is a desk's, tell the engine its workstation page is there now.

    The engine pauses a desk whose page has gone (`pause_absent_desks`), so nobody
    is held for an empty desk.
    """
    counter_room = COUNTER_ROOM.match(room)
    if counter_room:
        with suppress(NotFound):  # a desk removed from the site file meanwhile
            stores().engine.counter_seen(int(counter_room["counter"]))


def message_queue(redis_url: str, channel: str,
                  write_only: bool = False) -> python_socketio.RedisManager:
    """The Redis pub/sub that carries events between web processes (and from workers).

    Built here rather than from a URL by Flask-SocketIO, which would hand the
    embedded Redis's unix:// address to Kombu.
    """
    return python_socketio.RedisManager(redis_url, channel=channel, write_only=write_only)


class SocketPublisher:
    """Sends the engine's events to Socket.IO rooms (across processes via the message queue)."""

    def __init__(self, socketio: SocketIO):
        self.socketio = socketio

    def __call__(self, event: str, payload: dict, rooms: list[str]) -> None:
        """Emit `event` with `payload` to the rooms, once to a client in several of them."""
        self.socketio.emit(event, payload, to=rooms, namespace=NAMESPACE)


class QueuePublisher:
    """The engine's publisher in a process with no Socket.IO server (a worker job).

    A write-only manager puts the events on the message queue the web processes
    listen to. Events are hints, so one that cannot be sent is logged, not raised.
    """

    def __init__(self, redis_url: str, channel: str):
        self.manager = message_queue(redis_url, channel, write_only=True)

    def __call__(self, event: str, payload: dict, rooms: list[str]) -> None:
        """Emit `event` with `payload` to the rooms through the message queue."""
        try:
            self.manager.emit(event, payload, namespace=NAMESPACE, room=rooms)
        except Exception:  # pages re-read the state on their next event or reconnect
            logger.exception("Could not publish %s to %s", event, rooms)


def register_handlers(socketio: SocketIO) -> None:
    """Let clients join and leave the rooms they may see, and desks' pages say they are there."""

    @socketio.on("connect", namespace=NAMESPACE)
    def connect(_auth=None):
        # Connecting is no activity: an open page is not someone at work. The cookie of a
        # staff session that has ended connects as anyone does (a hall display opened in
        # that browser must still hear its calls); staff rooms stay closed to it.
        g.session_activity = False

    @socketio.on("join", namespace=NAMESPACE)
    def join(message):
        g.session_activity = False
        room = message.get("room", "") if isinstance(message, dict) else ""
        if not isinstance(room, str) or not may_join(room):
            return {"ok": False, "error": "This room does not exist or is not yours to join."}
        join_room(room)
        desk_seen(room)
        return {"ok": True}

    @socketio.on("heartbeat", namespace=NAMESPACE)
    def heartbeat(_message=None):
        joined = rooms(namespace=NAMESPACE)
        staff_rooms = [room for room in joined if STAFF_ROOM.match(room)
                       or COUNTER_ROOM.match(room)]
        if staff_rooms:
            # An open desk workstation is someone at work: its heartbeat keeps the session
            # from idling out (STAFF_IDLE_MINUTES); other staff pages' do not.
            g.session_activity = any(COUNTER_ROOM.match(room) for room in staff_rooms)
            if not current_user.is_authenticated:
                disconnect()  # the session ended (sign-out, idle, deactivated): no more events
                return None
        # Only desks whose room this client joined (with the permission checked then).
        for room in joined:
            desk_seen(room)
        return {"ok": True}

    @socketio.on("leave", namespace=NAMESPACE)
    def leave(message):
        room = message.get("room", "") if isinstance(message, dict) else ""
        leave_room(room)
        return {"ok": True}
