"""The RQ jobs of appointments (`python -m tessera scheduler` enqueues them): marking missed
appointments, and tending the waiting lists."""

from tessera.appointments import waiting_list
from tessera.appointments.checkin import CheckInWindow, mark_missed
from tessera.config import Config
from worker import job_stores


def mark_missed_appointments() -> int:
    """Every booked appointment whose check-in window has closed becomes missed; how many."""
    with job_stores() as stores:
        return mark_missed(stores.database, stores.engine.clock(),
                           CheckInWindow(Config.CHECK_IN_EARLY_MINUTES,
                                         Config.CHECK_IN_LATE_MINUTES))


def tend_waiting_lists() -> dict[str, int]:
    """End lapsed offers and passed entries, offer each free place someone waits for."""
    with job_stores() as stores:
        return waiting_list.sweep(stores.database, stores.engine.clock())
