"""The append-only event log: every state change appends one event (DESIGN invariant 3)."""

import datetime as dt

from sqlalchemy.orm import Session

from tessera.models import Event


def record_event(session: Session, site_id: str, kind: str, at: dt.datetime, *,
                 ticket_id: int | None = None, step_id: int | None = None,
                 counter_id: int | None = None, staff_id: int | None = None,
                 **data) -> None:
    """Append one event to the log, in the caller's transaction."""
    session.add(Event(site_id=site_id, kind=kind, at=at, ticket_id=ticket_id,
                      step_id=step_id, counter_id=counter_id, staff_id=staff_id, data=data))
