"""The RQ job that keeps the reports' daily roll-ups up to date (the scheduler runs it)."""

from tessera.reports.rollups import roll_up_sites
from worker import job_stores


def roll_up_reports() -> dict[str, int]:
    """Roll up every site's closed days not rolled up yet; how many days per site."""
    with job_stores() as stores:
        return {site: len(days) for site, days in roll_up_sites(stores.database).items()}
