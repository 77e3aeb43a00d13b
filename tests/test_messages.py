"""Messages to visitors: the outbox written with each change, reminders, sending once through
a real SMTP server (across a worker's crash and restart), retries, texts in the visitor's
language, SMS through files and Twilio's API, and the purge of contact data."""

import base64
import datetime as dt
import http.server
import json
import mailbox
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from email.header import decode_header, make_header
from pathlib import Path
from typing import ClassVar

import pytest
import yaml
from babel.support import Translations
from rq import Queue
from rq.job import Job
from sqlalchemy import select

from tessera.appointments.availability import get_service, slots
from tessera.appointments.booking import book, cancel, confirm, move
from tessera.clock import utc_now
from tessera.database import Database
from tessera.messages.outbox import (
    create_due_reminders,
    parse_reminders,
    queue_messages,
    reminder_kind,
)
from tessera.messages.purge import purge_contacts
from tessera.messages.senders import (
    SendFailed,
    TwilioSmsSender,
    config_settings,
    sms_sender,
)
from tessera.messages.sending import (
    MESSAGE_QUEUE,
    outlets_from_settings,
    send_after_commit,
    send_due,
    send_one,
    sweep,
)
from tessera.messages.texts import SHOW_CODE, compose
from tessera.models import Appointment, Event, Message, WaitingListEntry
from tessera.printing.content import catalogue_translator
from tessera.sites.loader import load_site, read_site_file

from .conftest import Clock
from .helpers import ROOT, closed_port

CATALOGUES = ROOT / "tessera" / "translations"

PUBLIC_URL = "https://tessera.example"
EMAIL = "visitor@example.org"
PHONE = "+30 210 123 4567"
BOTH = {"email": EMAIL, "phone": PHONE}
REMINDERS = parse_reminders("24h,2h")
EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Each test's own Postgres is not needed where the point is the SMTP dialogue or a file.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def site_document() -> dict:
    """A centre open around the clock with one service booked in half hours, two places each."""
    return {
        "id": "messages", "name": {"el": "Κέντρο", "en": "Centre"},
        "timezone": "Europe/Athens", "language": "el", "languages": ["el", "en", "ar"],
        "organisations": {"city": {"name": {"el": "Δήμος"}}},
        "services": {"registration": {
            "organisation": "city", "prefix": "A", "target_wait": 30, "mean_handling": 10,
            "text": {"el": {"name": "Εγγραφή"}, "en": {"name": "Registration"},
                     "ar": {"name": "التسجيل"}},
            "appointments": {"slot_minutes": 30, "places": 2, "notice_minutes": 0,
                             "horizon_days": 30, "hold_minutes": 10,
                             "hours": {day: ["00:00-24:00"] for day in EVERY_DAY}}}},
        "counters": {"desk-1": {"name": {"el": "1"}, "services": ["registration"],
                                "languages": ["el", "ar"]}},
    }


@pytest.fixture
def centre(database, tmp_path):
    """The centre, loaded from a validated site file."""
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site_document(), allow_unicode=True), encoding="utf-8")
    with database.session() as session:
        load_site(session, read_site_file(path))


def slot_after(database, moment: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The start of the first slot beginning at or after `moment` (naive UTC)."""
    with database.session() as session:
        service = get_service(session, "messages", "registration")
        found = slots(session, service, (moment + dt.timedelta(hours=2)).date()
                      - dt.timedelta(days=1), 3, None, now)
        return next(slot.start for slot in found if slot.start >= moment)


def book_one(database, now: dt.datetime, start: dt.datetime, contact=BOTH,
             language: str = "el", hold: bool = False) -> Appointment:
    """Book (or hold) the slot at `start`, committed."""
    with database.session() as session:
        return book(session, "messages", "registration", start, language, contact, now,
                    hold=hold)


def messages(database) -> list[Message]:
    """Every outbox row, oldest first."""
    with database.session() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def kinds(database) -> list[tuple[str, str]]:
    """(kind, channel) of every outbox row, oldest first."""
    return [(message.kind, message.channel) for message in messages(database)]


def events_of(database, kind: str) -> list[Event]:
    """The events of one kind, oldest first."""
    with database.session() as session:
        return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


class Recorder:
    """A sender that keeps what it was given (the point of these tests is what is sent when)."""

    def __init__(self, fail: bool = False, pause: float = 0.0):
        self.sent, self.fail, self.pause = [], fail, pause
        self.lock = threading.Lock()

    def send(self, *message) -> None:
        """Keep the message, or refuse it."""
        time.sleep(self.pause)
        if self.fail:
            raise SendFailed("server down")
        with self.lock:
            self.sent.append(message)


def recording_outlets(email=None, sms=None, claim_seconds: int = 300):
    """Outlets whose senders record, with the real settings otherwise."""
    from tessera.messages.sending import Outlets

    return Outlets(email or Recorder(), sms or Recorder(), PUBLIC_URL,
                   "Tessera <tessera@tessera.example>", claim_seconds)


def settings(**overrides) -> dict:
    """The messages' settings as Config has them, with overrides."""
    return {**config_settings(), "SMTP_STARTTLS": False, "SMTP_TIMEOUT": 10, **overrides}


# The outbox, written with the change ---------------------------------------------------

def test_each_change_writes_its_messages_in_its_own_transaction(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=2), clock.now)
    appointment = book_one(database, clock.now, start)
    assert kinds(database) == [("confirmation", "email"), ("confirmation", "sms")]
    first = messages(database)[0]
    assert (first.due_at, first.created_at, first.language) == (clock.now, clock.now, "el")

    later = slot_after(database, start + dt.timedelta(hours=3), clock.now)
    with database.session() as session:
        move(session, appointment.token, later, clock.advance(minutes=1))
    with database.session() as session:
        move(session, appointment.token, start, clock.advance(minutes=1))
    with database.session() as session:
        cancel(session, appointment.token, clock.advance(minutes=1))
    assert [kind for kind, channel in kinds(database) if channel == "email"] == \
        ["confirmation", "moved:1", "moved:2", "cancellation"]

    # A change that does not commit leaves no message behind either.
    other = book_one(database, clock.now, start, contact={"email": EMAIL})
    with pytest.raises(RuntimeError), database.session() as session:
        cancel(session, other.token, clock.now)
        raise RuntimeError("the request failed after cancelling")
    assert [kind for kind, _ in kinds(database)].count("cancellation") == 2  # both channels
    with database.session() as session:
        assert session.get(Appointment, other.id).state == "booked"


def test_a_hold_is_not_told_until_it_is_confirmed_and_nothing_without_contact(
        database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    held = book_one(database, clock.now, start, contact={"email": EMAIL}, hold=True)
    with database.session() as session:
        move(session, held.token, start + dt.timedelta(minutes=30), clock.now)
    assert kinds(database) == []
    with database.session() as session:
        confirm(session, held.token, clock.now)
    assert kinds(database) == [("confirmation", "email")]

    dropped = book_one(database, clock.now, start, contact={"phone": PHONE}, hold=True)
    with database.session() as session:
        cancel(session, dropped.token, clock.now)
    silent = book_one(database, clock.now, start, contact=None)
    with database.session() as session:
        cancel(session, silent.token, clock.now)
    assert kinds(database) == [("confirmation", "email")]


def test_the_same_message_is_written_once_and_sent_once(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    appointment = book_one(database, clock.now, start, contact={"email": EMAIL})
    with database.session() as session:
        again = session.get(Appointment, appointment.id)
        assert queue_messages(session, again, "appointment_booked", clock.now) == []
    assert kinds(database) == [("confirmation", "email")]

    outlets = recording_outlets()
    assert send_due(database, clock, outlets) == {"sent": 1}
    assert send_due(database, clock, outlets) == {}
    assert send_one(database, messages(database)[0].id, clock, outlets) == "skipped"
    assert len(outlets.email.sent) == 1
    sent = events_of(database, "message_sent")
    assert [event.data for event in sent] == [{"appointment": appointment.id,
                                               "message": "confirmation", "channel": "email",
                                               "attempts": 1}]
    assert EMAIL not in json.dumps(sent[0].data)


def test_two_workers_at_once_send_each_message_once(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    for _ in range(2):
        book_one(database, clock.now, start)
    # Slow senders, so that both workers find the same rows due and race for each claim.
    email, sms = Recorder(pause=0.05), Recorder(pause=0.05)
    outlets = recording_outlets(email, sms)
    workers = [threading.Thread(target=send_due, args=(database, clock, outlets))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(email.sent) == len(sms.sent) == 2
    assert len({message[0].message_id for message in email.sent}) == 2
    assert len(events_of(database, "message_sent")) == 4
    assert all(message.sent_at is not None for message in messages(database))


def test_a_failed_send_is_retried_later_until_it_is_sent(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    book_one(database, clock.now, start, contact={"phone": PHONE})
    failing = Recorder(fail=True)
    assert send_due(database, clock, recording_outlets(sms=failing)) == {"failed": 1}
    assert send_due(database, clock, recording_outlets(sms=failing)) == {}  # backing off
    clock.advance(minutes=1)
    assert send_due(database, clock, recording_outlets(sms=failing)) == {"failed": 1}
    (message,) = messages(database)
    assert (message.attempts, message.sent_at, message.claimed_at) == (2, None, None)
    assert message.last_error == "server down"
    assert message.due_at == clock.now + dt.timedelta(minutes=2)  # twice as long

    working = Recorder()
    clock.advance(minutes=2)
    assert send_due(database, clock, recording_outlets(sms=working)) == {"sent": 1}
    assert len(working.sent) == 1
    assert [event.data["attempts"] for event in events_of(database, "message_failed")] == [1, 2]
    assert events_of(database, "message_sent")[0].data["attempts"] == 3


def test_a_message_the_appointment_outgrew_is_dropped_not_sent(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    appointment = book_one(database, clock.now, start, contact={"email": EMAIL}, language="en")
    with database.session() as session:
        cancel(session, appointment.token, clock.now)
    outlets = recording_outlets()
    assert send_due(database, clock, outlets) == {"dropped": 1, "sent": 1}
    assert [message[0].subject for message in outlets.email.sent] == \
        ["Your appointment is cancelled"]
    confirmation = messages(database)[0]
    assert confirmation.last_error == "not sent: appointment cancelled"
    assert events_of(database, "message_dropped")[0].data["reason"] == "appointment cancelled"


def test_an_offer_says_until_when_the_place_is_kept_and_ends_with_its_hold(
        database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    offers, holds = [], []
    for _ in range(2):
        # As the waiting list does: a hold for the visitor in line, told through _record.
        with database.session() as session:
            holds.append(book(session, "messages", "registration", start, "en",
                              {"email": EMAIL}, clock.now, hold=True))
            offers += queue_messages(session, holds[-1], "appointment_offered", clock.now)
    assert len(offers) == 2 and {kind for kind, _ in kinds(database)} == {"offer"}
    outlets = recording_outlets()
    assert send_one(database, offers[0], clock, outlets) == "sent"
    (email,) = outlets.email.sent[0]
    assert email.subject == "A place is free for you"
    # Kept for 10 minutes from 10:00 in Athens; the link is where it is confirmed.
    assert "10:10" in email.body and f"{PUBLIC_URL}/a/{holds[0].token}" in email.body
    clock.advance(minutes=10)
    assert send_one(database, offers[1], clock, outlets) == "dropped"
    assert events_of(database, "message_dropped")[0].data["reason"] == "offer ended"


# Reminders ----------------------------------------------------------------------------

def test_reminders_fall_due_before_the_appointment_and_follow_a_move(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=3), clock.now)
    appointment = book_one(database, clock.now, start, contact={"email": EMAIL}, language="en")

    def reminders_at(moment: dt.datetime) -> list[str]:
        clock.now = moment
        with database.session() as session:
            create_due_reminders(session, moment, REMINDERS)
        return [kind for kind, _ in kinds(database) if kind.startswith("reminder")]

    assert reminders_at(start - dt.timedelta(hours=24, minutes=1)) == []
    assert reminders_at(start - dt.timedelta(hours=24)) == [reminder_kind("24h", start)]
    assert reminders_at(start - dt.timedelta(hours=3)) == [reminder_kind("24h", start)]
    assert reminders_at(start - dt.timedelta(hours=2)) == [reminder_kind("24h", start),
                                                           reminder_kind("2h", start)]
    assert messages(database)[-1].due_at == start - dt.timedelta(hours=2)

    # Moved to the next day: the reminders already written no longer apply.
    later = slot_after(database, start + dt.timedelta(days=1), clock.now)
    with database.session() as session:
        move(session, appointment.token, later, clock.now)
    assert reminders_at(later - dt.timedelta(hours=2)) == [
        reminder_kind("24h", start), reminder_kind("2h", start), reminder_kind("2h", later)]
    outlets = recording_outlets()
    outcome = send_due(database, clock, outlets)
    assert outcome == {"sent": 3, "dropped": 2}  # confirmation, move, new reminder
    assert [sent[0].subject for sent in outlets.email.sent] == [
        "Your appointment is booked", "Your appointment has a new time",
        "Reminder of your appointment"]


def test_a_reminder_whose_time_had_passed_at_booking_is_skipped(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(hours=3), clock.now)
    book_one(database, clock.now, start)
    cancelled = book_one(database, clock.now, start, contact={"email": EMAIL})
    with database.session() as session:
        cancel(session, cancelled.token, clock.now)
    for moment in (clock.now, start - dt.timedelta(hours=2), start + dt.timedelta(minutes=1)):
        with database.session() as session:
            create_due_reminders(session, moment, REMINDERS)
    assert [kind for kind, _ in kinds(database) if kind.startswith("reminder")] == \
        [reminder_kind("2h", start)] * 2  # email and sms of the booked one


def test_only_the_latest_reminder_due_is_written_after_a_pause(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=3), clock.now)
    book_one(database, clock.now, start, contact={"email": EMAIL})
    with database.session() as session:
        create_due_reminders(session, start - dt.timedelta(minutes=30), REMINDERS)
    assert kinds(database)[-1] == (reminder_kind("2h", start), "email")
    assert len(kinds(database)) == 2


def test_reminder_settings_are_read_and_checked():
    assert parse_reminders("2h, 24h,90m") == [
        ("24h", dt.timedelta(hours=24)), ("2h", dt.timedelta(hours=2)),
        ("90m", dt.timedelta(minutes=90))]
    assert parse_reminders("") == []
    with pytest.raises(ValueError, match="2 days"):
        parse_reminders("2 days")


# Texts --------------------------------------------------------------------------------

def test_messages_speak_the_visitors_language(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    arabic = book_one(database, clock.now, start, contact={"email": EMAIL}, language="ar")
    greek = book_one(database, clock.now, start, contact={"email": EMAIL}, language="el")
    with database.session() as session:
        text = compose("reminder:2h@x", session.get(Appointment, arabic.id), PUBLIC_URL)
        assert text.language == "ar"
        assert "موعد" in text.body and "التسجيل" in text.body  # "Appointment", the service
        assert "نوفمبر" in text.body  # the month, written the Arabic way
        assert f"{PUBLIC_URL}/a/{arabic.token}" in text.body and arabic.code in text.body
        assert catalogue_translator("ar", SHOW_CODE) in text.body  # the check-in hint
        text = compose("confirmation", session.get(Appointment, greek.id), PUBLIC_URL)
        assert "Ραντεβού" in text.body and "Εγγραφή" in text.body
        # The local time of the site, not UTC: the slot starts at 08:00 UTC, 10:00 in Athens.
        assert start.hour == 8 and "10:00" in text.body


# Real SMTP and real worker processes ------------------------------------------------

def wait_for(condition, seconds: float = 30, what: str = "the condition"):
    """Poll until `condition()` is truthy; its value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"Timed out waiting for {what}")


def listening(port: int) -> bool:
    """Whether a server accepts connections on the local port."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def smtp_server(tmp_path):
    """A real SMTP server process (aiosmtpd) keeping what it receives in a Maildir."""
    port, folder = closed_port(), tmp_path / "maildir"
    process = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Mailbox", str(folder)])
    wait_for(lambda: listening(port), what="the SMTP server")

    def received() -> list:
        return list(mailbox.Maildir(folder, create=False)) if folder.exists() else []

    yield port, received
    process.terminate()
    process.wait(timeout=10)


@SQLITE_ONLY
def test_a_server_down_is_retried_and_the_message_sent_once(database, centre, clock,
                                                            tmp_path, smtp_server):
    port, received = smtp_server
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    book_one(database, clock.now, start, contact={"email": EMAIL}, language="en")
    down = outlets_from_settings(settings(SMTP_HOST="127.0.0.1", SMTP_PORT=closed_port()),
                                 PUBLIC_URL, tmp_path)
    assert send_due(database, clock, down) == {"failed": 1}
    (message,) = messages(database)
    assert message.attempts == 1 and message.last_error.startswith("SMTP:")
    up = outlets_from_settings(settings(SMTP_HOST="127.0.0.1", SMTP_PORT=port),
                               PUBLIC_URL, tmp_path)
    clock.advance(minutes=1)
    assert send_due(database, clock, up) == {"sent": 1}
    clock.advance(hours=1)
    assert send_due(database, clock, up) == {}
    (mail,) = wait_for(received, what="the email")
    assert mail["To"] == EMAIL and mail["Subject"] == "Your appointment is booked"
    assert mail["Message-ID"].startswith("<tessera.")


def worker_environment(database_url, redis_url, tmp_path, smtp_port: int) -> dict:
    """The environment of a worker process on the test's stores and SMTP server."""
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "TESSERA_INSTANCE": str(tmp_path / "instance"), "PUBLIC_URL": PUBLIC_URL,
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port), "SMTP_STARTTLS": "false",
            "SMTP_TIMEOUT": "120", "APPOINTMENT_REMINDERS": "3h",
            "MESSAGE_CLAIM_SECONDS": "3"}


def start_worker(environment: dict) -> subprocess.Popen:
    """`python -m tessera worker`: an RQ worker with its scheduler."""
    return subprocess.Popen([sys.executable, "-m", "tessera", "worker"], cwd=ROOT,
                            env=environment)


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (an RQ worker forks each job into its own session)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, unseen = [], [pid]
    while unseen:
        found = unseen.pop()
        tree.append(found)
        unseen += parents.get(found, [])
    return tree


def crash(worker: subprocess.Popen) -> None:
    """Kill a worker and the job it runs at once, as a power cut would."""
    for pid in reversed(process_tree(worker.pid)):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    worker.wait(timeout=10)


def run_job(queue: Queue, name: str, *arguments) -> object:
    """Enqueue a job for the worker process and wait for its result."""
    job = queue.enqueue(name, *arguments)
    wait_for(lambda: job.get_status(refresh=True) in ("finished", "failed"), 60,
             f"the job {name}")
    assert job.get_status() == "finished", job.latest_result().exc_string
    return Job.fetch(job.id, connection=queue.connection).return_value()


@SQLITE_ONLY
def test_a_reminder_is_delivered_once_across_a_worker_crash_and_restart(
        database, database_url, redis_url, redis_client, centre, tmp_path, smtp_server):
    port, received = smtp_server
    # Booked two hours ago for a slot under three hours ahead: the 3h reminder is due now.
    now = utc_now()
    start = slot_after(database, now + dt.timedelta(hours=1, minutes=30), now)
    assert start - dt.timedelta(hours=3) <= now
    book_one(database, now - dt.timedelta(hours=2), start, contact={"email": EMAIL},
              language="ar")
    queue = Queue(MESSAGE_QUEUE, connection=redis_client)

    # The first worker's mail server takes the connection and never answers: the worker
    # claims the first message and hangs, until it is killed.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    first = start_worker(worker_environment(database_url, redis_url, tmp_path,
                                            silent.getsockname()[1]))
    try:
        queue.enqueue("worker.messages.sweep_messages")
        claimed = wait_for(lambda: [m for m in messages(database) if m.claimed_at], 60,
                           "a claimed message")
    finally:
        crash(first)
        silent.close()
    assert [message.kind for message in claimed] == ["confirmation"]
    assert {kind for kind, _ in kinds(database)} == {"confirmation", reminder_kind("3h", start)}
    assert received() == []

    second = start_worker(worker_environment(database_url, redis_url, tmp_path, port))
    try:
        time.sleep(3.5)  # the dead worker's claim goes stale (MESSAGE_CLAIM_SECONDS=3)
        assert run_job(queue, "worker.messages.sweep_messages") == {"reminders": 0, "sent": 2}
        # Sending again, however it is asked for, sends nothing more.
        for message in messages(database):
            assert run_job(queue, "worker.messages.send_message", message.id) == "skipped"
        assert run_job(queue, "worker.messages.sweep_messages") == {"reminders": 0}
    finally:
        second.terminate()
        second.wait(timeout=30)
    mails = received()
    arabic = Translations.load(str(CATALOGUES), ["ar"])
    assert sorted(str(make_header(decode_header(mail["Subject"]))) for mail in mails) == sorted(
        arabic.gettext(text) for text in ["Your appointment is booked",
                                          "Reminder of your appointment"])
    assert len({mail["Message-ID"] for mail in mails}) == 2
    reminder = next(mail for mail in mails if arabic.gettext("Reminder of your appointment")
                    == str(make_header(decode_header(mail["Subject"]))))
    body = reminder.get_payload(decode=True).decode()
    assert "التسجيل" in body and reminder["Content-Language"] == "ar"
    assert [message.attempts for message in messages(database)] == [2, 1]
    assert len(events_of(database, "message_sent")) == 2


def test_a_request_hands_its_messages_to_the_worker_without_waiting_for_redis(
        database, redis_url, redis_client, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    send_after_commit(database, redis_url)
    appointment = book_one(database, clock.now, start)
    ids = [message.id for message in messages(database)]
    queue = Queue(MESSAGE_QUEUE, connection=redis_client)
    wait_for(lambda: sorted(queue.job_ids) == sorted(f"message-{id}" for id in ids),
             what="the send jobs")

    # With Redis unreachable the change commits as quickly, and the sweep sends instead.
    away = Database(str(database.engine.url.render_as_string(hide_password=False)))
    send_after_commit(away, f"redis://127.0.0.1:{closed_port()}/0")
    began = time.monotonic()
    with away.session() as session:
        cancel(session, appointment.token, clock.now)
    assert time.monotonic() - began < 1
    away.engine.dispose()
    outlets = recording_outlets()
    assert sweep(database, clock, outlets, REMINDERS) == {"reminders": 0, "sent": 2,
                                                          "dropped": 2}


# SMS ----------------------------------------------------------------------------------

def test_the_file_senders_keep_the_demos_messages(database, centre, clock, tmp_path):
    start = slot_after(database, clock.now + dt.timedelta(days=1), clock.now)
    book_one(database, clock.now, start, language="ar")
    outlets = outlets_from_settings(settings(SMTP_HOST=None, SMS_SENDER="file"), PUBLIC_URL,
                                    tmp_path)
    assert send_due(database, clock, outlets) == {"sent": 2}
    (sms,) = [json.loads(line) for line in
              (tmp_path / "sms-outbox.log").read_text(encoding="utf-8").splitlines()]
    assert sms["to"] == PHONE and "التسجيل" in sms["text"]
    (email,) = mailbox.mbox(tmp_path / "email-outbox.log")
    assert email["To"] == EMAIL


class TwilioStandIn(http.server.BaseHTTPRequestHandler):
    """Answers as Twilio's Messages API does, keeping each request it got."""

    requests: ClassVar[list] = []
    status: ClassVar[int] = 201

    def do_POST(self):
        """Keep the request; answer with a message resource or an error."""
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.requests.append((self.path, dict(self.headers), urllib.parse.parse_qs(body)))
        answer = {"sid": "SM123", "status": "queued"} if self.status == 201 else \
            {"code": 21211, "message": "The 'To' number is not a valid phone number.",
             "status": 400}
        payload = json.dumps(answer).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *arguments):
        """Quiet."""


@pytest.fixture
def twilio():
    """A local HTTP server standing in for api.twilio.com."""
    TwilioStandIn.requests, TwilioStandIn.status = [], 201
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TwilioStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_the_twilio_sender_posts_a_message_as_twilio_documents_it(twilio):
    sender = sms_sender(settings(SMS_SENDER="twilio", TWILIO_ACCOUNT_SID="AC0001",
                                 TWILIO_AUTH_TOKEN="secret", TWILIO_FROM="+15005550006",
                                 TWILIO_API_URL=twilio))
    assert isinstance(sender, TwilioSmsSender)
    sender.send("+30 (210) 123-4567", "موعد 10:00")
    ((path, headers, form),) = TwilioStandIn.requests
    assert path == "/2010-04-01/Accounts/AC0001/Messages.json"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"AC0001:secret").decode()
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == {"To": ["+302101234567"], "From": ["+15005550006"], "Body": ["موعد 10:00"]}

    TwilioStandIn.status = 400
    with pytest.raises(SendFailed, match="Twilio 400: 21211 The 'To' number"):
        sender.send("+30 210 123 4567", "text")
    with pytest.raises(ValueError, match="TWILIO_AUTH_TOKEN"):
        sms_sender(settings(SMS_SENDER="twilio", TWILIO_ACCOUNT_SID="AC1",
                            TWILIO_AUTH_TOKEN=None, TWILIO_FROM="+1"))
    with pytest.raises(SendFailed, match="Twilio"):
        sms_sender(settings(SMS_SENDER="twilio", TWILIO_ACCOUNT_SID="AC1",
                            TWILIO_AUTH_TOKEN="x", TWILIO_FROM="+1",
                            TWILIO_API_URL=f"http://127.0.0.1:{closed_port()}")).send("+301", "x")


# Contact data -------------------------------------------------------------------------

def test_contact_data_is_purged_days_after_the_appointment(database, centre, clock):
    start = slot_after(database, clock.now + dt.timedelta(hours=1), clock.now)
    old = book_one(database, clock.now, start)
    recent = book_one(database, clock.now, slot_after(database, start + dt.timedelta(days=2),
                                                      clock.now))
    with database.session() as session:
        session.add_all([WaitingListEntry(
            site_id="messages", service_id=old.service_id, language="el",
            first_day=dt.date(2026, 11, 20), last_day=last_day, email=EMAIL, phone=None,
            token=f"entry-{last_day}", state="ended", created_at=clock.now)
            for last_day in (dt.date(2026, 11, 22), dt.date(2026, 11, 24))])
    # A failed send may quote the address; it goes too.
    with database.session() as session:
        session.get(Message, messages(database)[0].id).last_error = f"refused {EMAIL}"

    purge_at = old.end + dt.timedelta(days=30, minutes=1)
    with database.session() as session:
        assert purge_contacts(session, purge_at, 30) == {
            "messages": {"appointments": 1, "waiting_list_entries": 1}}
    with database.session() as session:
        assert (session.get(Appointment, old.id).email, session.get(Appointment, old.id).phone) \
            == (None, None)
        assert session.get(Appointment, recent.id).email == EMAIL
        entries = {entry.last_day: entry.email for entry in session.scalars(
            select(WaitingListEntry))}
        # Kept through the 30 days after its last day, local time.
        assert entries == {dt.date(2026, 11, 22): None, dt.date(2026, 11, 24): EMAIL}
        assert EMAIL not in str([message.last_error for message in session.scalars(
            select(Message))])
    (purged,) = events_of(database, "contacts_purged")
    assert purged.data == {"appointments": 1, "waiting_list_entries": 1, "retention_days": 30}
    with database.session() as session:
        assert purge_contacts(session, purge_at, 30) == {}
    # What was still to be sent is dropped, for want of a contact or of a purpose.
    assert send_due(database, Clock(purge_at), recording_outlets()) == {"dropped": 4}
    assert sorted(event.data["reason"] for event in events_of(database, "message_dropped")) \
        == ["appointment started"] * 2 + ["no contact"] * 2

