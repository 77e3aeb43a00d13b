"""Visitors' feedback: a score of 1 to 5 and optional reason chips, once per finished visit.

Nothing personal is collected: no free text, only a score and keys from a fixed list,
so a report can count them and a translation can name them.

The reports count the scores (`scores_by_ticket`); the mobile ticket, the kiosk's feedback
terminal and the API give them (`give_feedback`).
"""

import datetime as dt
import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from tessera.database import Database
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.events import record_event
from tessera.models import FINAL_STEP_STATES, Feedback, Ticket

# The reason chips, in the order pages show them. Keys are stored and reported; the labels
# are what a visitor reads, in their language. Keep keys stable: reports count them.
REASONS = ("short_wait", "long_wait", "kind_staff", "my_language", "problem_solved",
           "not_solved")
REASON_LABELS = {
    "short_wait": lazy_gettext("Short wait"),
    "long_wait": lazy_gettext("Long wait"),
    "kind_staff": lazy_gettext("Kind staff"),
    "my_language": lazy_gettext("Served in my language"),
    "problem_solved": lazy_gettext("My matter was solved"),
    "not_solved": lazy_gettext("My matter was not solved"),
}
SCORES = (1, 2, 3, 4, 5)
# Each face's accessible name: a screen reader says the number and its meaning (with a
# typographic en dash, on purpose).
SCORE_LABELS = {
    1: lazy_gettext("1 of 5 – very bad"),  # noqa: RUF001
    2: lazy_gettext("2 of 5 – bad"),  # noqa: RUF001
    3: lazy_gettext("3 of 5 – okay"),  # noqa: RUF001
    4: lazy_gettext("4 of 5 – good"),  # noqa: RUF001
    5: lazy_gettext("5 of 5 – very good"),  # noqa: RUF001
}
SOURCES = ("ticket", "kiosk")


def reason_choices() -> list[dict]:
    """The reason chips for a page: key and label in the current language."""
    return [{"key": key, "label": str(REASON_LABELS[key])} for key in REASONS]


def score_choices() -> list[dict]:
    """The five faces for a page: score and accessible name in the current language."""
    return [{"score": score, "label": str(SCORE_LABELS[score])} for score in SCORES]


def visit_ended(ticket: Ticket) -> bool:
    """Whether the visit is over: every step of its journey has ended (done, referred on,
    no-show, cancelled or expired). A planned later step means the visit goes on."""
    return bool(ticket.steps) and all(step.state in FINAL_STEP_STATES for step in ticket.steps)


def _checked(score, reasons, source: str) -> tuple[int, list[str]]:
    """The score and reasons if acceptable; else a 422 that says what is wrong."""
    # bool is an int in Python, but `true` is no score.
    if not isinstance(score, int) or isinstance(score, bool) or score not in SCORES:
        raise InvalidInput(_("The score must be a whole number from 1 to 5."), "invalid_score")
    if not isinstance(reasons, list | tuple) or not all(
            isinstance(reason, str) and reason in REASONS for reason in reasons):
        raise InvalidInput(_("The reasons must be a list of known reasons."), "invalid_reasons")
    if len(set(reasons)) != len(reasons):
        raise InvalidInput(_("Each reason may be given once."), "invalid_reasons")
    if source not in SOURCES:
        raise InvalidInput(_("Feedback comes from a ticket or a kiosk."), "invalid_source")
    return score, list(reasons)


def give_feedback(session_or_database: Session | Database, token: str, score, reasons,
                  now: dt.datetime, source: str = "ticket") -> Feedback:
    """Store a visitor's feedback on the ticket with `token`, once, after the visit ended.

    404 for an unknown token, 409 before the visit has ended or when feedback was already
    given, 422 for a score or reasons out of the lists. A `feedback_given` event (score and
    reasons only) is appended in the same transaction. With a Database, the change commits
    in a session of its own; with a Session, in the caller's transaction.
    """
    score, reasons = _checked(score, reasons, source)
    if isinstance(session_or_database, Database):
        with session_or_database.session() as session:
            return _give(session, token, score, reasons, now, source)
    return _give(session_or_database, token, score, reasons, now, source)


def _give(session: Session, token: str, score: int, reasons: list[str], now: dt.datetime,
          source: str) -> Feedback:
    ticket = session.scalars(select(Ticket).where(Ticket.token == token)
                             .options(selectinload(Ticket.steps))).first()
    if ticket is None:
        raise NotFound(_("There is no such ticket."))
    if not visit_ended(ticket):
        raise Conflict(_("You can tell us how your visit was when it has ended."),
                       "visit_not_ended")
    feedback = Feedback(site_id=ticket.site_id, ticket_id=ticket.id, score=score,
                        reasons=reasons, given_at=now, source=source)
    # The unique ticket_id decides between two requests at once, not a read beforehand
    # (both could read "none yet"); the savepoint keeps the caller's transaction usable.
    try:
        with session.begin_nested():
            session.add(feedback)
    except IntegrityError:
        raise Conflict(_("Thank you, your feedback for this visit was already given."),
                       "feedback_given") from None
    record_event(session, ticket.site_id, "feedback_given", now, ticket_id=ticket.id,
                 score=score, reasons=reasons)
    return feedback


def feedback_given(session: Session, ticket_id: int) -> bool:
    """Whether this ticket's visitor has given feedback already."""
    return session.scalar(select(Feedback.id).where(Feedback.ticket_id == ticket_id)) is not None


def scores_by_ticket(session: Session, site_id: str, first: dt.date,
                     last: dt.date) -> dict[int, int]:
    """The score per ticket id, for the site's tickets of service days first..last."""
    # Feedback comes after its visit began: given_at bounds the read by its index too.
    since = dt.datetime.combine(first, dt.time()) - dt.timedelta(days=1)
    return dict(session.connection().execute(
        select(Feedback.ticket_id, Feedback.score)
        .join(Ticket, Ticket.id == Feedback.ticket_id)
        .where(Feedback.site_id == site_id, Feedback.given_at >= since,
               Ticket.service_day >= first, Ticket.service_day <= last)).all())


# A ticket number as a visitor types it: "A-042", "a42", "A 042".
TYPED_NUMBER = re.compile(r"^([A-Z]{1,8})[\s-]*0*(\d{1,6})$")


def find_ticket(session: Session, site_id: str, reference: str,
                service_day: dt.date) -> Ticket | None:
    """The site's ticket a feedback terminal was given: a number typed (today's ticket of
    that number), or what a QR code scanner types, the mobile-ticket address; else None.

    Numbers start again every day, so a number names today's ticket only.
    """
    reference = (reference or "").strip()
    if not reference or len(reference) > 300:
        return None
    query = select(Ticket).where(Ticket.site_id == site_id).options(selectinload(Ticket.steps))
    if "/t/" in reference:
        token = reference.split("/t/", 1)[1].split("?", 1)[0].split("#", 1)[0].strip("/")
        return session.scalars(query.where(Ticket.token == token)).first() if token else None
    typed = TYPED_NUMBER.match(reference.upper())
    if typed is None:
        return None
    number = f"{typed.group(1)}-{int(typed.group(2)):03d}"
    return session.scalars(query.where(Ticket.service_day == service_day,
                                       Ticket.number == number)).first()
