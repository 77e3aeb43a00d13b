"""Which messages an appointment gets, and when: the rows of the outbox (table `message`).

A row is one (appointment, kind, channel); the unique constraint on the three
makes writing it again a no-op, so an event told twice, or two sweeps at once,
still give one message. Kinds:

- confirmation          the appointment is booked (also a confirmed hold)
- moved:<n>             its n-th move, once it had been confirmed
- cancellation          it is cancelled, once it had been confirmed
- offer                 the waiting list holds a freed place for the visitor
- reminder:<offset>@<start>  a reminder before the start it was made for, so a
                        moved appointment is reminded of its new time
"""

import datetime as dt
import re

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from tessera.models import Appointment, AppointmentState, Message

CONFIRMATION = "confirmation"
CANCELLATION = "cancellation"
OFFER = "offer"
MOVED_PREFIX = "moved:"
REMINDER_PREFIX = "reminder:"
# The key of `session.info` listing the rows a transaction wrote, for sending after commit.
NEW_MESSAGES = "tessera_new_messages"
OFFSET = re.compile(r"^\s*(\d+)\s*([hm])\s*$")


def channels_of(appointment: Appointment) -> list[str]:
    """The channels the visitor gave a contact for."""
    return [channel for channel, contact in (("email", appointment.email),
                                             ("sms", appointment.phone)) if contact]


def queue_messages(session: Session, appointment: Appointment, event_kind: str,
                   now: dt.datetime) -> list[int]:
    """Write the messages that tell of an appointment event, in the event's transaction.

    Returns the ids of the rows written (none for events the visitor is not told of,
    such as a hold, or for an appointment without contact data).
    """
    if not channels_of(appointment):
        return []
    kind = None
    if event_kind == "appointment_booked":
        kind = CONFIRMATION
    elif event_kind == "appointment_offered":
        kind = OFFER
    elif event_kind in ("appointment_moved", "appointment_cancelled") and _confirmed(
            session, appointment.id):
        # A hold the visitor never confirmed was never told of, so neither is its change.
        kind = CANCELLATION if event_kind == "appointment_cancelled" else \
            f"{MOVED_PREFIX}{_moves_told(session, appointment.id) + 1}"
    if kind is None:
        return []
    return write_messages(session, appointment, kind, now, now)


def write_messages(session: Session, appointment: Appointment, kind: str, due_at: dt.datetime,
                   now: dt.datetime) -> list[int]:
    """One row of `kind` per channel of the appointment, unless it exists; the new rows' ids."""
    rows = [{"appointment_id": appointment.id, "kind": kind, "channel": channel,
             "language": appointment.language, "due_at": due_at, "created_at": now,
             "attempts": 0} for channel in channels_of(appointment)]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(Message).values(rows)
                 .on_conflict_do_nothing(index_elements=["appointment_id", "kind", "channel"])
                 .returning(Message.id))
    ids = list(session.scalars(statement))
    session.info.setdefault(NEW_MESSAGES, []).extend(ids)
    return ids


def parse_reminders(setting: str) -> list[tuple[str, dt.timedelta]]:
    """APPOINTMENT_REMINDERS ("24h,2h") as (label, offset), largest first; "" gives none."""
    reminders = []
    for part in filter(str.strip, setting.split(",")):
        match = OFFSET.match(part)
        if match is None:
            raise ValueError(f"APPOINTMENT_REMINDERS: {part!r} is not like 24h or 90m")
        amount, unit = int(match.group(1)), match.group(2)
        reminders.append((f"{amount}{unit}", dt.timedelta(hours=amount) if unit == "h"
                          else dt.timedelta(minutes=amount)))
    return sorted(reminders, key=lambda reminder: reminder[1], reverse=True)


def reminder_kind(label: str, start: dt.datetime) -> str:
    """The kind of the reminder `label` before an appointment starting at `start`."""
    return f"{REMINDER_PREFIX}{label}@{start:%Y-%m-%dT%H:%M}"


def create_due_reminders(session: Session, now: dt.datetime,
                         reminders: list[tuple[str, dt.timedelta]]) -> list[int]:
    """Write the reminders due by `now` for booked appointments still ahead; the new ids.

    A reminder is due at start - offset. It is skipped if the visitor was told of
    the time (confirmation or move) only after that moment: the message just sent
    says it all. When several are due at once (a worker was down), only the
    latest one is written.
    """
    if not reminders:
        return []
    longest = reminders[0][1]
    candidates = list(session.scalars(select(Appointment).where(
        Appointment.state == AppointmentState.BOOKED, Appointment.start > now,
        Appointment.start <= now + longest,
        or_(Appointment.email.is_not(None), Appointment.phone.is_not(None)))))
    if not candidates:
        return []
    told = dict(session.execute(
        select(Message.appointment_id, func.max(Message.created_at)).where(
            Message.appointment_id.in_([appointment.id for appointment in candidates]),
            or_(Message.kind == CONFIRMATION, Message.kind.startswith(MOVED_PREFIX)))
        .group_by(Message.appointment_id)).all())
    written = []
    for appointment in candidates:
        if appointment.id not in told:
            continue
        due = [(label, appointment.start - offset) for label, offset in reminders
               if appointment.start - offset <= now]
        if not due:
            continue
        label, due_at = due[-1]  # the smallest offset due: the others are overtaken by it
        if told[appointment.id] >= due_at:
            continue
        written += write_messages(session, appointment, reminder_kind(label, appointment.start),
                                  due_at, now)
    return written


def obsolete_reason(message: Message, appointment: Appointment, now: dt.datetime) -> str | None:
    """Why a pending message should no longer be sent (the appointment changed), or None."""
    if not getattr(appointment, "email" if message.channel == "email" else "phone"):
        return "no contact"
    state = appointment.state
    if message.kind == CANCELLATION:
        return None
    if message.kind == OFFER:
        if state != AppointmentState.HELD or appointment.hold_expires_at <= now:
            return "offer ended"
        return None
    if state != AppointmentState.BOOKED:
        return f"appointment {state.value}"
    if message.kind.startswith(REMINDER_PREFIX):
        label = message.kind.removeprefix(REMINDER_PREFIX).split("@")[0]
        if message.kind != reminder_kind(label, appointment.start):
            return "appointment moved"
    if appointment.start <= now:
        # Retried for so long that it would arrive too late to help.
        return "appointment started"
    return None


def _confirmed(session: Session, appointment_id: int) -> bool:
    return session.scalar(select(func.count()).where(
        Message.appointment_id == appointment_id, Message.kind == CONFIRMATION)) > 0


def _moves_told(session: Session, appointment_id: int) -> int:
    return session.scalar(select(func.count(func.distinct(Message.kind))).where(
        Message.appointment_id == appointment_id, Message.kind.startswith(MOVED_PREFIX)))
