"""The hall message: one line a manager sets for a site's call displays (a closure, a moved desk).

It lives in SQL (`Site.hall_message`), so nothing about it is lost when Redis is
flushed. Staff type it in whatever language they want visitors to read, and every
display shows it as typed, in every language of its rotation: it is plain text,
escaped wherever it is shown (Jinja's autoescape, `textContent` in the display's
script), never HTML.
"""

import unicodedata

from flask_babel import gettext as _
from sqlalchemy import select

from tessera.errors import InvalidInput
from tessera.events import record_event
from tessera.models import HALL_MESSAGE_MAX, Counter
from tessera.sites.catalogue import get_site

EVENT_KIND = "hall_message_set"


def clean_message(text: str | None) -> str | None:
    """The message as it is kept: control characters gone (line breaks and tabs become
    spaces), runs of spaces made one, trimmed; None when nothing is left (a clear).

    InvalidInput (422, code `message_too_long`) past HALL_MESSAGE_MAX characters.
    """
    if text is None:
        return None
    kept = "".join(" " if character.isspace() else character for character in text
                   if character.isspace() or unicodedata.category(character) != "Cc")
    kept = " ".join(kept.split())
    if not kept:
        return None
    if len(kept) > HALL_MESSAGE_MAX:
        raise InvalidInput(
            _("The hall message may have at most %(limit)s characters; this one has "
              "%(length)s.", limit=HALL_MESSAGE_MAX, length=len(kept)),
            "message_too_long", limit=HALL_MESSAGE_MAX)
    return kept


# `engine` below is the queue engine (tessera.queue.engine.QueueEngine), untyped here:
# the queue package depends on sites, not the other way round.
def hall_message(engine, site_id: str) -> str | None:
    """The site's current hall message, or None (NotFound for an unknown site)."""
    with engine.database.session() as session:
        return get_site(session, site_id).hall_message


def set_hall_message(engine, site_id: str, text: str | None,
                     staff_id: int | None = None) -> str | None:
    """Set (or, with None or only spaces, clear) the site's hall message; the message kept.

    The change and its event (`hall_message_set`, with the text) are one transaction;
    after the commit every display of the site, in every zone, hears a `queue_changed`
    hint and re-reads the queues, whose answer carries the message.
    """
    message = clean_message(text)
    with engine.database.session() as session:
        site = get_site(session, site_id)
        site.hall_message = message
        record_event(session, site_id, EVENT_KIND, engine.clock(), staff_id=staff_id,
                     message=message)
        zones = session.scalars(select(Counter.zone).distinct().where(
            Counter.site_id == site_id, Counter.active, Counter.zone.is_not(None))).all()
    rooms = [f"site:{site_id}", f"staff:{site_id}",
             *(f"site:{site_id}:{zone}" for zone in sorted(zones) if zone)]
    engine.publish("queue_changed", {"site": site_id}, rooms)
    return message
