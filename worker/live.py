"""The RQ job that keeps the live state in Redis in line with SQL (the scheduler runs it often)."""

from tessera.printing.jobs import recover_abandoned_prints
from tessera.queue.reconcile import repair
from worker import job_stores


def repair_live_state() -> dict:
    """Repair every site's live state without flushing, and take back abandoned print jobs.

    Returns the counts per site, and the print jobs requeued or dropped.
    """
    with job_stores() as stores:
        return {"sites": repair(stores.database, stores.live),
                "abandoned_prints": recover_abandoned_prints(stores.live.redis,
                                                             stores.database)}
