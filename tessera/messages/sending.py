"""Sending the outbox: claim a row, send it outside any transaction, mark it sent.

The claim is a conditional UPDATE (not sent, due, and unclaimed or claimed
longer ago than MESSAGE_CLAIM_SECONDS), so two workers never send the same
row; a worker that died holding a claim is taken over once the claim is
stale. A failed send leaves the row pending with one more attempt, the error,
and a later due time (backoff), and it is tried again until it is sent. One
window remains: a worker that dies after the server accepted the message and
before its commit sends it again once its claim is stale; the email carries
the same Message-ID both times, so the duplicate is recognisable.

A request that wrote messages hands their send jobs to RQ after it commits,
from a background thread (`send_after_commit`): the request never waits for
Redis, and if Redis is down the periodic sweep sends them instead.
"""

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import redis
from rq import Queue
from rq.exceptions import DuplicateJobError
from sqlalchemy import event, or_, select, update

from tessera.config import INSTANCE_DIRECTORY
from tessera.database import Database
from tessera.events import record_event
from tessera.messages.outbox import NEW_MESSAGES, create_due_reminders, obsolete_reason
from tessera.messages.senders import (
    Email,
    EmailSender,
    SendFailed,
    SmsSender,
    email_sender,
    fixed_message_id,
    sms_sender,
)
from tessera.messages.texts import compose
from tessera.models import Message
from tessera.redis_client import redis_client

logger = logging.getLogger(__name__)

MESSAGE_QUEUE = "default"  # a queue `python -m tessera worker` listens to
# The RQ job, named rather than imported: worker/ holds the entry points, and imports us.
SEND_JOB = "worker.messages.send_message"
RETRY_FIRST_SECONDS = 60  # then twice as long after each failure, up to:
RETRY_LONGEST_SECONDS = 3600
SWEEP_BATCH = 200  # messages one sweep sends at most; the next sweep goes on
ENQUEUE_TIMEOUT_SECONDS = 2

Clock = Callable[[], dt.datetime]
# One thread per process hands the jobs over, in order; it starts with the first one.
_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tessera-messages")


@dataclass(frozen=True)
class Outlets:
    """Where messages go and what they link to: the senders, PUBLIC_URL, the claim's length."""

    email: EmailSender
    sms: SmsSender
    public_url: str
    mail_from: str
    claim_seconds: int


def outlets_from_settings(settings: Mapping, public_url: str,
                          instance: Path = INSTANCE_DIRECTORY) -> Outlets:
    """The outlets the settings describe (as tessera.messages.senders.config_settings)."""
    return Outlets(email_sender(settings, instance), sms_sender(settings, instance), public_url,
                   settings["MAIL_FROM"], settings["MESSAGE_CLAIM_SECONDS"])


def retry_delay(attempts: int) -> dt.timedelta:
    """How long after its `attempts`-th failure a message is tried again."""
    return dt.timedelta(seconds=min(RETRY_FIRST_SECONDS * 2 ** max(attempts - 1, 0),
                                    RETRY_LONGEST_SECONDS))


def send_one(database: Database, message_id: int, clock: Clock, outlets: Outlets) -> str:
    """Send one message if it is due and nobody else is sending it.

    Returns "sent", "dropped" (its appointment changed so that it no longer
    applies), "failed" (pending again, for later) or "skipped" (not due, sent
    already, or claimed by another worker).
    """
    claimed_at = clock()
    with database.session() as session:
        claimed = session.execute(
            update(Message).where(Message.id == message_id, *_claimable(claimed_at, outlets))
            .values(claimed_at=claimed_at, attempts=Message.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            return "skipped"
        message = session.get(Message, message_id)
        appointment = message.appointment
        facts = {"appointment": appointment.id, "message": message.kind,
                 "channel": message.channel, "attempts": message.attempts}
        site_id = appointment.site_id
        reason = obsolete_reason(message, appointment, claimed_at)
        if reason is not None:
            # Done without sending: sent_at closes the row, last_error says why.
            message.sent_at, message.claimed_at = claimed_at, None
            message.last_error = f"not sent: {reason}"
            record_event(session, site_id, "message_dropped", claimed_at, reason=reason,
                         **facts)
            return "dropped"
        text = compose(message.kind, appointment, outlets.public_url)
        address = appointment.email if message.channel == "email" else appointment.phone
        key = hashlib.sha256(f"{site_id}:{appointment.token}:{message.kind}:{message.channel}"
                             .encode()).hexdigest()[:32]
    # No transaction stays open while a slow server is waited for.
    try:
        if facts["channel"] == "email":
            outlets.email.send(Email(address, text.subject, text.body, text.language,
                                     fixed_message_id(key, outlets.mail_from)))
        else:
            outlets.sms.send(address, text.short)
    except SendFailed as error:
        logger.warning("Message %s (%s) not sent: %s", message_id, facts["message"], error)
        _failed(database, message_id, claimed_at, clock(), str(error), site_id, facts)
        return "failed"
    with database.session() as session:
        now = clock()
        marked = session.execute(
            update(Message).where(Message.id == message_id, Message.sent_at.is_(None))
            .values(sent_at=now, claimed_at=None, last_error=None)
            .execution_options(synchronize_session=False)).rowcount
        if marked == 1:
            # Never the address or the number: the event log outlives the contact data.
            record_event(session, site_id, "message_sent", now, **facts)
    return "sent"


def send_due(database: Database, clock: Clock, outlets: Outlets,
             limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Send the messages due now, oldest first; how many ended each way."""
    with database.session() as session:
        ids = list(session.scalars(select(Message.id).where(*_claimable(clock(), outlets))
                                   .order_by(Message.due_at, Message.id).limit(limit)))
    outcomes: dict[str, int] = {}
    for found in ids:
        outcome = send_one(database, found, clock, outlets)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def sweep(database: Database, clock: Clock, outlets: Outlets,
          reminders: list[tuple[str, dt.timedelta]]) -> dict[str, int]:
    """The periodic job's work: write the reminders due, then send every message due."""
    with database.session() as session:
        written = len(create_due_reminders(session, clock(), reminders))
    return {"reminders": written, **send_due(database, clock, outlets)}


def send_after_commit(database: Database, redis_url: str) -> None:
    """After each commit of `database` that wrote messages, enqueue their send jobs.

    In a background thread with short timeouts, so a request never waits for or
    fails on Redis; a job lost that way is sent by the next sweep.
    """
    client = redis_client(redis_url, socket_connect_timeout=ENQUEUE_TIMEOUT_SECONDS,
                                  socket_timeout=ENQUEUE_TIMEOUT_SECONDS)
    queue = Queue(MESSAGE_QUEUE, connection=client)

    @event.listens_for(database.sessions, "after_commit")
    def _enqueue(session) -> None:
        written = session.info.pop(NEW_MESSAGES, None)
        if written:
            _BACKGROUND.submit(enqueue_sends, queue, written)

    @event.listens_for(database.sessions, "after_rollback")
    def _forget(session) -> None:
        session.info.pop(NEW_MESSAGES, None)


def enqueue_sends(queue: Queue, message_ids: Iterable[int]) -> int:
    """Enqueue one send job per message (one job id per message); how many were enqueued."""
    enqueued = 0
    try:
        for found in message_ids:
            try:
                queue.enqueue(SEND_JOB, found, job_id=f"message-{found}", unique=True,
                              description=f"send message {found}")
                enqueued += 1
            except DuplicateJobError:
                continue
    except redis.RedisError as error:
        logger.warning("Could not enqueue message jobs (the sweep will send them): %s", error)
    return enqueued


def _claimable(now: dt.datetime, outlets: Outlets) -> tuple:
    stale = now - dt.timedelta(seconds=outlets.claim_seconds)
    return (Message.sent_at.is_(None), Message.due_at <= now,
            or_(Message.claimed_at.is_(None), Message.claimed_at < stale))


def _failed(database: Database, message_id: int, claimed_at: dt.datetime, now: dt.datetime,
            error: str, site_id: str, facts: dict) -> None:
    """Back to pending, later; unless another worker took the row over meanwhile."""
    with database.session() as session:
        changed = session.execute(
            update(Message).where(Message.id == message_id, Message.sent_at.is_(None),
                                  Message.claimed_at == claimed_at)
            .values(claimed_at=None, last_error=error[:300],
                    due_at=now + retry_delay(facts["attempts"]))
            .execution_options(synchronize_session=False)).rowcount
        if changed == 1:
            record_event(session, site_id, "message_failed", now, **facts)
