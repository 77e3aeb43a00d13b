"""The RQ job that prints a committed ticket once on its kiosk's printer.

What printing means (once per ticket, retried with backoff, printer statuses)
is in tessera/printing/jobs.py; this entry point only connects to the stores
named by the environment when it runs, and announces printer changes.
"""

import logging
import os
from functools import partial

from tessera.config import Config
from tessera.printing.jobs import print_once
from tessera.stores import Stores
from tessera.web.realtime import NAMESPACE, message_queue

logger = logging.getLogger(__name__)


def announce_printer(redis_url: str, site_id: str, kiosk_key: str, status: str) -> None:
    """Tell the site's staff pages that a kiosk printer's status changed.

    Emitted from the worker process, which has no Socket.IO server of its own:
    a write-only manager publishes on the channel the web processes listen to.
    """
    channel = os.environ.get("SOCKETIO_CHANNEL", Config.SOCKETIO_CHANNEL)
    try:
        message_queue(redis_url, channel, write_only=True).emit(
            "printer_changed", {"kiosk": kiosk_key, "status": status},
            namespace=NAMESPACE, room=f"staff:{site_id}")
    except Exception:  # the status is in Redis anyway; pages re-read it on their next event
        logger.exception("Could not announce the printer status of kiosk %s", kiosk_key)


def print_ticket(ticket_id: int, kiosk_key: str) -> str:
    """The RQ job: print ticket `ticket_id` on the printer of kiosk `kiosk_key`, once.

    Returns what happened ("printed", "already printed", "no printer",
    "no ticket"); raises PrintFailed when the printer could not print, after
    recording the printer's status and a `print_failed` event, so RQ retries.
    """
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        raise RuntimeError("REDIS_URL is not set: the print job needs the live state's Redis")
    stores = Stores.connect(os.environ.get("DATABASE_URL", Config.DATABASE_URL), redis_url)
    try:
        return print_once(stores, ticket_id, kiosk_key, partial(announce_printer, redis_url))
    finally:
        stores.database.engine.dispose()
        stores.redis.close()


