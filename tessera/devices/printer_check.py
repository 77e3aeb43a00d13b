"""A test page on a kiosk's printer, from /admin/devices, by the print worker.

It goes the way a ticket goes (an RQ job on the print queue, the kiosk's printer
settings, the same sending and the same printer statuses: tessera.printing.jobs), but
it is no ticket: no number is drawn, no event is appended, nothing retries it (the
admin is waiting for the answer). The job's outcome stays in RQ for an hour, so the
page can show it when it comes back.
"""

import datetime as dt
import secrets
from collections.abc import Callable

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select

from tessera.clock import local_time, utc_now
from tessera.config import INSTANCE_DIRECTORY
from tessera.models import Device, DeviceKind, Site
from tessera.printing.content import N_, Block, Line, Printout, catalogue_translator

# The RQ job, named rather than imported: worker/ holds the entry points.
TEST_PRINT_JOB = "worker.printing.print_test_page"
RESULT_SECONDS = 3600
JOB_PREFIX = "test-print-"

TEST_PAGE = N_("Test page")
PRINTER_WORKS = N_("This printer works.")
KIOSK_LINE = N_("Kiosk: %(kiosk)s")


def enqueue_test_print(queue: Queue, site_id: str, kiosk_key: str) -> str:
    """Ask the print worker for a test page at the kiosk; the job's id, to ask for its
    outcome (`test_print_outcome`)."""
    job_id = f"{JOB_PREFIX}{site_id}-{kiosk_key}-{secrets.token_hex(4)}"
    queue.enqueue(TEST_PRINT_JOB, site_id, kiosk_key, job_id=job_id, result_ttl=RESULT_SECONDS,
                  failure_ttl=RESULT_SECONDS, description=f"test page at kiosk {kiosk_key}")
    return job_id


def test_print_outcome(connection, job_id: str) -> dict:
    """Where a test page is: {"state": "waiting" | "printed" | "no_printer" | "failed" |
    "unknown", "message"} (a failure's message is the printer's, as the status shows)."""
    if not job_id.startswith(JOB_PREFIX):
        return {"state": "unknown", "message": None}
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return {"state": "unknown", "message": None}
    result = job.latest_result()
    if result is None:
        return {"state": "waiting", "message": None}
    if result.type == result.Type.SUCCESSFUL:
        printed = result.return_value == "printed"
        return {"state": "printed" if printed else "no_printer", "message": None}
    # The traceback's last line, without the exception's class: "offline: <the printer's
    # error>" (PrintFailed), or whatever else went wrong.
    lines = (result.exc_string or "").strip().splitlines()
    return {"state": "failed",
            "message": lines[-1].split(": ", 1)[-1] if lines else None}


def print_test_page(stores, site_id: str, kiosk_key: str,
                    announce: Callable[[str, str, str], None]) -> str:
    """Print a test page on the kiosk's printer: "printed" or "no printer"; raises
    PrintFailed after recording the printer's status, as a ticket's print job does."""
    from tessera.printing.jobs import PrintFailed, _classify, _public_url, _send

    with stores.database.session() as session:
        kiosk = session.scalars(select(Device).where(
            Device.site_id == site_id, Device.key == kiosk_key,
            Device.kind == DeviceKind.KIOSK, Device.active)).first()
        settings = dict((kiosk.settings or {}).get("printer") or {}) if kiosk else {}
        if not settings:
            return "no printer"
        if "path" in settings:
            settings["path"] = str(INSTANCE_DIRECTORY / settings["path"])
        site = session.get(Site, site_id)
        printout = test_printout(site.name, site.language, site.timezone, kiosk_key,
                                 f"{_public_url().rstrip('/')}/kiosk/{site_id}/{kiosk_key}",
                                 utc_now())

    failure = None
    try:
        _send(settings, printout)
    except Exception as error:  # whatever the printer does, the admin hears of it
        failure = error
    status, message = _classify(failure) if failure is not None else ("ok", None)
    # The status the kiosk's tickets would have met: the list of devices shows it.
    before = stores.live.set_printer_status(site_id, kiosk_key, status, message, utc_now())
    if before is None or before["status"] != status:
        announce(site_id, kiosk_key, status)
    if failure is not None:
        raise PrintFailed(status, message) from failure
    return "printed"


def test_printout(site_name: dict, language: str, timezone: str, kiosk_key: str, url: str,
                  now: dt.datetime) -> Printout:
    """The test page: the site's name, "Test page", the kiosk, the time; in the site
    language, with a QR code of the kiosk's address."""

    def say(message: str) -> str:
        return catalogue_translator(language, message)

    return Printout(
        site_name=Block(language, (Line(site_name[language], bold=True, large=True,
                                        centered=True),)),
        number_label=Block(language, (Line(say(TEST_PAGE), centered=True),)),
        number="TEST",
        issued_at=local_time(now, timezone).strftime("%Y-%m-%d %H:%M"),
        sections=(Block(language, (Line(say(PRINTER_WORKS), bold=True),
                                   Line(say(KIOSK_LINE) % {"kiosk": kiosk_key}))),),
        mobile_url=url,
        qr_caption=Block(language, (Line(kiosk_key, centered=True),)),
    )
