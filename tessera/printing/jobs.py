"""The ticket printing job: print a committed ticket once on its kiosk's printer.

Issuing commits the ticket first and then enqueues `print_ticket` with
`enqueue_print`; printing never blocks or fails the issue. The job prints at
most once per ticket: a `printed` event in the log means done, so a retry
after a success, or a second enqueue, prints nothing more. When the printer
cannot print (offline, out of paper, unreachable) the job records the
kiosk's printer status in Redis for the kiosk screen and the managers,
appends a `print_failed` event, and raises so that RQ retries it with backoff.

Each kiosk's printer status lives in Redis (LiveState.set_printer_status,
printer_statuses): "ok", "offline", "paper_out" or "error", with a message
and the time. When it changes, the job
emits `printer_changed` to the site's staff room through a write-only
Socket.IO manager on the web processes' Redis message queue, so the manager
view shows it at once.
"""

import datetime as dt
import logging
import os
from collections.abc import Callable

from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased, selectinload

from tessera.clock import utc_now
from tessera.config import INSTANCE_DIRECTORY
from tessera.events import record_event
from tessera.links import listening_url, mobile_ticket_url
from tessera.models import Device, DeviceKind, Event, Service, Step, Ticket

logger = logging.getLogger(__name__)

PRINT_QUEUE = "print"  # the queue `python -m tessera worker` listens to first
# The RQ job, named rather than imported: worker/ holds the entry points, and imports us.
PRINT_JOB = "worker.printing.print_ticket"
RETRY_INTERVALS = [5, 15, 30, 60, 120]  # seconds before each retry: about 4 minutes in all
# After a flush of Redis, tickets issued this recently are still worth printing.
RESUME_PRINTING_WITHIN = dt.timedelta(minutes=5)


class PrintFailed(RuntimeError):
    """The printer could not print the ticket; `status` says why, for the kiosk screen."""

    def __init__(self, status: str, message: str):
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def print_job_id(ticket_id: int) -> str:
    """The RQ job id of a ticket's print job: one job per ticket."""
    return f"print-ticket-{ticket_id}"


def print_queue(connection) -> Queue:
    """The RQ queue print jobs go to, on a Redis connection."""
    return Queue(PRINT_QUEUE, connection=connection)


def enqueue_print(queue: Queue, ticket_id: int, kiosk_key: str) -> Job:
    """Enqueue the print job of a committed ticket, retried 5 times with backoff.

    The job id comes from the ticket, so enqueuing twice (a double tap, a
    retried request) gives the one job already there. Call it after the
    ticket's transaction has committed.
    """
    job_id = print_job_id(ticket_id)
    for _attempt in range(2):
        try:
            return queue.enqueue(
                PRINT_JOB, ticket_id, kiosk_key, job_id=job_id, unique=True,
                retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                description=f"print ticket {ticket_id} at kiosk {kiosk_key}",
            )
        except DuplicateJobError:
            try:
                return Job.fetch(job_id, connection=queue.connection)
            except NoSuchJobError:
                continue  # it expired between the two calls: enqueue it afresh
    raise RuntimeError(f"Could not enqueue the print job {job_id}")


def restore_printing(database, live, site_id: str, now: dt.datetime) -> int:
    """After Redis was flushed: each kiosk's printer status from the print events, and
    the print jobs of tickets issued at a kiosk in the last minutes and not printed.

    Older tickets are not printed any more: their visitors have the screen's ticket
    and have left the kiosk. Returns how many print jobs were enqueued again (a job
    still in RQ is the same job, and a printed ticket never prints twice).
    """
    with database.session() as session:
        latest = {}
        for event in session.scalars(select(Event).where(
                Event.site_id == site_id, Event.kind.in_(("printed", "print_failed")),
                Event.at >= now - dt.timedelta(days=1)).order_by(Event.id)):
            latest[event.data["kiosk"]] = event
        for kiosk_key, event in latest.items():
            failed = event.kind == "print_failed"
            live.set_printer_status(site_id, kiosk_key, event.data["status"] if failed else "ok",
                                    event.data["error"] if failed else None, event.at)
        printed = aliased(Event)
        issued = session.execute(select(Event.ticket_id, Event.data).where(
            Event.site_id == site_id, Event.kind == "issued",
            Event.at >= now - RESUME_PRINTING_WITHIN,
            ~exists().where(printed.ticket_id == Event.ticket_id, printed.kind == "printed")))
        jobs = [(ticket_id, data["kiosk"]) for ticket_id, data in issued if data.get("kiosk")]
    queue = print_queue(live.redis)
    for ticket_id, kiosk_key in jobs:
        enqueue_print(queue, ticket_id, kiosk_key)
    return len(jobs)


def recover_abandoned_prints(connection, database, now: dt.datetime | None = None
                             ) -> dict[str, list[str]]:
    """Take back the print jobs whose worker died in the middle (killed, out of memory).

    RQ's own cleanup of the started-job registry finds them, once their heartbeat has
    lapsed (seconds with `ReconnectingWorker`), and fails them or schedules their retry.
    A retried job of a ticket issued in the last `RESUME_PRINTING_WITHIN` is queued at
    once, so a waiting worker takes it now; an older ticket is not printed any more
    (the same rule as after a flush): its visitor has long left the kiosk. Returns the
    job ids "requeued" and "dropped".
    """
    now = now or utc_now()
    queue = print_queue(connection)
    abandoned = set(queue.started_job_registry.get_expired_job_ids())
    queue.started_job_registry.cleanup()
    outcome = {"requeued": [], "dropped": []}
    for job_id in sorted(abandoned):
        try:
            job = Job.fetch(job_id, connection=connection)
        except NoSuchJobError:
            continue
        if job.get_status() != "scheduled":
            continue  # failed for good (no retries left), or not abandoned after all
        with database.session() as session:
            issued_at = session.scalar(select(Ticket.issued_at).where(Ticket.id == job.args[0]))
        queue.scheduled_job_registry.remove(job)
        if issued_at is not None and issued_at >= now - RESUME_PRINTING_WITHIN:
            queue.enqueue_job(job)
            outcome["requeued"].append(job_id)
        else:
            job.cancel()
            outcome["dropped"].append(job_id)
    for job_id in outcome["requeued"] + outcome["dropped"]:
        logger.warning("Print job %s was abandoned by its worker: %s", job_id,
                       "queued again" if job_id in outcome["requeued"] else "too late to print")
    return outcome


def print_once(stores, ticket_id: int, kiosk_key: str,
               announce: Callable[[str, str, str], None]) -> str:
    """Print ticket `ticket_id` on the printer of kiosk `kiosk_key` unless it printed already.

    Returns what happened ("printed", "already printed", "no printer", "no
    ticket"); raises PrintFailed when the printer could not print, after
    recording the printer's status and a `print_failed` event, so RQ retries.
    `announce(site, kiosk, status)` tells the staff pages of a changed status.
    """
    from tessera.printing.content import build_printout
    from tessera.printing.devices import profile_paper_width
    from tessera.printing.preview import preview_path, render_preview_png

    with stores.database.session() as session:
        ticket = session.scalars(
            select(Ticket).options(
                selectinload(Ticket.site),
                selectinload(Ticket.steps).selectinload(Step.service)
                .selectinload(Service.texts))
            .where(Ticket.id == ticket_id)).first()
        if ticket is None:
            # Tickets are committed before the job is enqueued and never deleted:
            # retrying cannot help.
            logger.error("Print job for ticket %s: there is no such ticket", ticket_id)
            return "no ticket"
        if _printed(session, ticket_id):
            return "already printed"
        kiosk = session.scalars(select(Device).where(
            Device.site_id == ticket.site_id, Device.key == kiosk_key,
            Device.kind == DeviceKind.KIOSK)).first()
        settings = dict((kiosk.settings or {}).get("printer") or {}) if kiosk else {}
        if not settings:
            # A kiosk without a printer shows the ticket on its screen only.
            return "no printer"
        if "path" in settings:
            # Relative to the instance directory, wherever the worker was started.
            settings["path"] = str(INSTANCE_DIRECTORY / settings["path"])
        site_id = ticket.site_id
        service_day, number = ticket.service_day, ticket.number
        printout = build_printout(ticket, stores.engine.position(ticket),
                                  mobile_ticket_url(_public_url(), ticket.token))
    def record_status(status: str, message: str | None = None) -> None:
        before = stores.live.set_printer_status(site_id, kiosk_key, status, message, utc_now())
        if before is None or before["status"] != status:
            announce(site_id, kiosk_key, status)

    # No transaction stays open while a slow or absent printer is waited for.
    try:
        _send(settings, printout)
    except Exception as error:
        status, message = _classify(error)
        logger.warning("Print job for ticket %s at kiosk %s failed: %s", ticket_id, kiosk_key,
                       message)
        record_status(status, message)
        with stores.database.session() as session:
            record_event(session, site_id, "print_failed", utc_now(), ticket_id=ticket_id,
                         kiosk=kiosk_key, status=status, error=message)
        raise PrintFailed(status, message) from error
    with stores.database.session() as session:
        record_event(session, site_id, "printed", utc_now(), ticket_id=ticket_id,
                     kiosk=kiosk_key, printer=settings.get("type"))
    record_status("ok")
    if settings.get("type") == "file" and settings.get("preview"):
        try:
            render_preview_png(printout, preview_path(settings["path"], service_day, number),
                               profile_paper_width(settings.get("profile")))
        except Exception:  # the ticket is printed; a missing preview must not reprint it
            logger.exception("Could not render the preview of ticket %s", ticket_id)
    return "printed"


def _public_url() -> str:
    # The worker has no request to learn the address from: PUBLIC_URL, else where `up`
    # (which gives its children HOST and PORT) made the web process listen.
    return os.environ.get("PUBLIC_URL") or listening_url(
        os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "5000"))


def _printed(session: Session, ticket_id: int) -> bool:
    return ticket_print_state(session, ticket_id) == "printed"


def ticket_print_state(session: Session, ticket_id: int) -> str:
    """Whether a ticket is "printed", its last try "failed" (a retry may follow), or "pending"."""
    kinds = set(session.scalars(select(Event.kind).where(
        Event.ticket_id == ticket_id, Event.kind.in_(("printed", "print_failed")))))
    if "printed" in kinds:
        return "printed"
    return "failed" if kinds else "pending"


def _send(settings: dict, printout) -> None:
    """Open the printer, make sure it can print, print, and close (which flushes a
    file and submits a CUPS job)."""
    from tessera.printing.devices import printer_from_settings, printer_problem
    from tessera.printing.escpos import render_ticket

    printer = printer_from_settings(settings)
    try:
        printer.open()
        problem = printer_problem(printer)
        if problem is not None:
            raise PrintFailed(*problem)
        render_ticket(printer, printout)
    finally:
        printer.close()


def _classify(error: Exception) -> tuple[str, str]:
    """The printer status and a message for an error raised while printing."""
    from escpos.exceptions import DeviceNotFoundError

    if isinstance(error, PrintFailed):
        return error.status, error.message
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, DeviceNotFoundError | OSError):
        # Refused, unreachable, timed out, unplugged, a connection that broke mid-ticket.
        return "offline", message
    return "error", message
