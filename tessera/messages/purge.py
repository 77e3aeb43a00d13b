"""Contact data is kept only as long as it is needed (DESIGN invariant 7), then deleted.

An appointment's email and phone go CONTACT_RETENTION_DAYS after it ended, a
waiting-list entry's that many days after its last day; so does any error
text of its messages, which may quote an address. What remains is what the
figures need: times, states, languages, and the event log, which never holds
an address or a number.
"""

import datetime as dt

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tessera.clock import service_day
from tessera.events import record_event
from tessera.models import Appointment, Message, Site, WaitingListEntry


def purge_contacts(session: Session, now: dt.datetime, retention_days: int) -> dict[str, dict]:
    """Delete the contact data past its keeping time; per site that had any, how much.

    Each site that had something deleted gets one `contacts_purged` event with
    the counts.
    """
    keep = dt.timedelta(days=retention_days)
    purged = {}
    for site in session.scalars(select(Site)):
        ended = select(Appointment.id).where(
            Appointment.site_id == site.id, Appointment.end < now - keep,
            or_(Appointment.email.is_not(None), Appointment.phone.is_not(None)))
        appointment_ids = list(session.scalars(ended))
        if appointment_ids:
            session.execute(update(Appointment).where(Appointment.id.in_(appointment_ids))
                            .values(email=None, phone=None)
                            .execution_options(synchronize_session=False))
            session.execute(update(Message).where(Message.appointment_id.in_(appointment_ids),
                                                  Message.last_error.is_not(None))
                            .values(last_error=None)
                            .execution_options(synchronize_session=False))
        last_kept_day = service_day(now - keep, site.timezone)
        entries = session.execute(
            update(WaitingListEntry).where(
                WaitingListEntry.site_id == site.id, WaitingListEntry.last_day < last_kept_day,
                or_(WaitingListEntry.email.is_not(None), WaitingListEntry.phone.is_not(None)))
            .values(email=None, phone=None).execution_options(synchronize_session=False)
        ).rowcount
        if appointment_ids or entries:
            counts = {"appointments": len(appointment_ids), "waiting_list_entries": entries}
            record_event(session, site.id, "contacts_purged", now, **counts,
                         retention_days=retention_days)
            purged[site.id] = counts
    return purged
