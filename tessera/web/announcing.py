"""Rendering a call's announcements in the background as soon as it is published.

The engine publishes `called` after the call's commit; this publisher passes every event
on, and for a call also enqueues the render job (`worker.announcements.render_call`, named
rather than imported: worker/ is above us). A failure to enqueue is logged and never fails
the call: a display asking for the file renders it itself.
"""

import logging

from rq import Queue

from tessera.queue.base import Publisher

logger = logging.getLogger(__name__)

RENDER_JOB = "worker.announcements.render_call"
# A queue of its own, which `python -m tessera worker` takes last: a second of speech
# synthesis must never hold up a ticket's printing or a repair of the live state.
RENDER_QUEUE = "announcements"
RENDER_TIMEOUT_SECONDS = 120
# An announcement a minute old is of no use to anyone: drop the job rather than run it late.
RENDER_TTL_SECONDS = 60


class AnnouncingPublisher:
    """Publishes through `inner`, and enqueues the rendering of every call's announcements."""

    def __init__(self, inner: Publisher, connection):
        self.inner = inner
        self.queue = Queue(RENDER_QUEUE, connection=connection)

    def __call__(self, event: str, payload: dict, rooms: list[str]) -> None:
        """Publish the event; for `called`, enqueue the render job too."""
        self.inner(event, payload, rooms)
        if event != "called":
            return
        try:
            self.queue.enqueue(RENDER_JOB, payload["counter"]["id"], payload["ticket"],
                               payload["language"], job_timeout=RENDER_TIMEOUT_SECONDS,
                               ttl=RENDER_TTL_SECONDS, result_ttl=0,
                               description=f"announce {payload['ticket']}")
        except Exception:  # the display renders on request; a call never fails for this
            logger.exception("Could not enqueue the announcement of %s", payload.get("ticket"))
