"""The RQ job that pauses desks whose workstation page has gone (the scheduler runs it often)."""

from tessera.config import Config
from worker import job_stores


def pause_absent_desks() -> list[int]:
    """Pause every open desk not seen for DESK_ABSENT_SECONDS; returns the desks paused."""
    with job_stores() as stores:
        return stores.engine.pause_absent_desks(Config.DESK_ABSENT_SECONDS)
