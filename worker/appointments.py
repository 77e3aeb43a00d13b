"""The RQ job that marks missed appointments (`python -m tessera scheduler` enqueues it)."""

from tessera.appointments.checkin import CheckInWindow, mark_missed
from tessera.config import Config
from worker import job_stores


def mark_missed_appointments() -> int:
    """Every booked appointment whose check-in window has closed becomes missed; how many."""
    with job_stores() as stores:
        return mark_missed(stores.database, stores.engine.clock(),
                           CheckInWindow(Config.CHECK_IN_EARLY_MINUTES,
                                         Config.CHECK_IN_LATE_MINUTES))
