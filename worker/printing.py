"""The RQ job that prints a committed ticket once on its kiosk's printer.

What printing means (once per ticket, retried with backoff, printer statuses)
is in tessera/printing/jobs.py; this entry point connects to the stores when it
runs, and announces printer changes to the site's staff pages.
"""

from tessera.printing.jobs import print_once
from worker import job_stores


def print_ticket(ticket_id: int, kiosk_key: str) -> str:
    """The RQ job: print ticket `ticket_id` on the printer of kiosk `kiosk_key`, once.

    Returns what happened ("printed", "already printed", "no printer",
    "no ticket"); raises PrintFailed when the printer could not print, after
    recording the printer's status and a `print_failed` event, so RQ retries.
    """
    with job_stores() as stores:
        return print_once(stores, ticket_id, kiosk_key, _announcer(stores))


def print_test_page(site_id: str, kiosk_key: str) -> str:
    """The RQ job: a test page (no ticket) on the printer of kiosk `kiosk_key`, asked for
    on /admin/devices; "printed" or "no printer", or PrintFailed (not retried)."""
    from tessera.devices.printer_check import print_test_page as print_page

    with job_stores() as stores:
        return print_page(stores, site_id, kiosk_key, _announcer(stores))


def _announcer(stores):
    """Tells a site's staff pages that a kiosk's printer status changed."""

    def announce(site_id: str, kiosk: str, status: str) -> None:
        stores.engine.publish("printer_changed", {"kiosk": kiosk, "status": status},
                              [f"staff:{site_id}"])

    return announce
