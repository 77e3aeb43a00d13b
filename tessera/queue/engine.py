"""The queue engine: issuing tickets, calling them and moving visits along.

Plain Python over the two stores, callable without HTTP. SQL is the system
of record and is written first (a ticket is committed before anyone sees
it); Redis holds the live queues and is the arbiter of who calls which step.
Every state change appends an event in the same transaction.
"""

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from tessera.clock import epoch, service_day, utc_now
from tessera.database import Database
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.events import record_event
from tessera.models import (
    Counter,
    CounterStatus,
    Service,
    Site,
    Staff,
    Step,
    StepState,
    Ticket,
)
from tessera.queue.live import Duty, LiveState, QueuedStep, ServiceQueue
from tessera.queue.routing import TESSERA, RoutingPolicy

# How each database names the index that allows one active step per desk when it refuses.
ACTIVE_STEP_INDEX_NAMES = ("uq_step_active_counter", "UNIQUE constraint failed: step.counter_id")

NEEDS = ("priority", "interpreter")
# publish(event, payload, rooms): how the engine tells the world, after a commit.
Publisher = Callable[[str, dict, list[str]], None]
# A claim from Redis can be stale (the step was cancelled a moment ago); try again.
CALL_ATTEMPTS = 5
NUMBER_ATTEMPTS = 5


@dataclass(frozen=True)
class CallOutcome:
    """The answer to a counter's call-next: a step, or why there is none."""

    step: Step | None
    held: int = 0  # steps kept briefly for a colleague who speaks their language
    retry_after: float | None = None  # seconds until such a colleague should be free


def queued_step(step: Step) -> QueuedStep:
    """The routing view of a waiting step, from its SQL row."""
    ticket = step.ticket
    return QueuedStep(
        step_id=step.id, service_id=step.service_id, arrived_at=epoch(ticket.arrived_at),
        language=ticket.language, priority="priority" in ticket.needs,
    )


def counter_duty(session: Session, counter: Counter) -> Duty | None:
    """A counter's duty as Redis should hold it, derived from SQL."""
    if counter.status == CounterStatus.CLOSED:
        return None
    active = session.scalars(
        select(Step).options(selectinload(Step.service))
        .where(Step.counter_id == counter.id, Step.state.in_((StepState.CALLED,
                                                              StepState.SERVING)))
    ).first()
    free_at = 0.0
    if active is not None:
        began = active.started_at or active.called_at
        free_at = epoch(began) + active.service.mean_handling_minutes * 60
    return Duty(
        service_ids=tuple(counter.duty_service_ids), languages=tuple(counter.duty_languages),
        paused=counter.status == CounterStatus.PAUSED,
        step_id=active.id if active else None, free_at=free_at,
    )


def publish_nothing(_event: str, _payload: dict, _rooms: list[str]) -> None:
    """The publisher of an engine nobody listens to (simulations, benchmarks, CLI)."""


def call_announcement(step: Step) -> dict:
    """What the hall and the visitor's phone are told of a call: a number and a desk."""
    counter = step.counter
    return {
        "ticket": step.ticket.number, "language": step.ticket.language,
        "step_id": step.id, "service_id": step.service_id,
        "counter": {"id": counter.id, "key": counter.key, "name": counter.name,
                    "zone": counter.zone},
        "recall": step.recall_count, "at": step.called_at.isoformat() + "Z",
    }


def request_fingerprint(service_ids: Sequence[int], language: str, needs: Iterable[str]) -> str:
    """A digest of an issue request, to tell a retry from a reused idempotency key."""
    body = json.dumps([list(service_ids), language, sorted(needs)])
    return hashlib.sha256(body.encode()).hexdigest()


class QueueEngine:
    """Issues tickets and moves their steps through the states of DESIGN.md."""

    def __init__(self, database: Database, live: LiveState,
                 clock: Callable[[], dt.datetime] = utc_now,
                 policy: RoutingPolicy = TESSERA, max_services: int = 4,
                 publisher: Publisher = publish_nothing):
        self.database = database
        self.live = live
        self.clock = clock
        self.policy = policy
        self.max_services = max_services
        self.publish = publisher

    # Issuing ----------------------------------------------------------------

    def issue_ticket(self, site_id: str, service_ids: Sequence[int], language: str,
                     needs: Iterable[str] = (), idempotency_key: str | None = None,
                     kiosk: str | None = None) -> Ticket:
        """Issue a ticket for a journey of services and put its first step in the queue.

        The same `idempotency_key` with the same request returns the first
        ticket again (a double tap is one ticket); with a different request
        it is refused. `kiosk`, where the ticket was taken, goes into the
        `issued` event, so that printing can resume after Redis was flushed.
        """
        needs = sorted(set(needs))
        fingerprint = request_fingerprint(service_ids, language, needs)
        reseed = False
        for _attempt in range(NUMBER_ATTEMPTS):
            if idempotency_key:
                existing = self._ticket_by_key(site_id, idempotency_key, fingerprint)
                if existing is not None:
                    return existing
            try:
                ticket = self._insert_ticket(site_id, service_ids, language, needs,
                                             idempotency_key, fingerprint, reseed, kiosk)
            except IntegrityError:
                # Either a concurrent request with the same idempotency key won,
                # or Redis lost the day's numbering: look again, re-seed from SQL.
                reseed = True
                continue
            self.live.enqueue(site_id, queued_step(ticket.steps[0]))
            self._queue_changed(site_id)
            return ticket
        raise Conflict(_("Could not issue a ticket number; please try again."), "numbering")

    def _ticket_by_key(self, site_id: str, key: str, fingerprint: str) -> Ticket | None:
        with self.database.session() as session:
            ticket = session.scalars(
                select(Ticket).options(selectinload(Ticket.steps).selectinload(Step.service),
                                       selectinload(Ticket.steps).selectinload(Step.ticket))
                .where(Ticket.site_id == site_id, Ticket.idempotency_key == key)
            ).first()
        if ticket is not None and ticket.request_fingerprint != fingerprint:
            raise InvalidInput(_("This Idempotency-Key was already used for a different request."),
                               "idempotency_key_reused")
        if ticket is not None and ticket.steps[0].state == StepState.WAITING:
            # A retry may follow a first attempt that committed but failed to queue:
            # queuing again is harmless (the same member, the same score).
            self.live.enqueue(site_id, queued_step(ticket.steps[0]))
        return ticket

    def _validate_issue(self, session: Session, site_id: str, service_ids: Sequence[int],
                        language: str, needs: Sequence[str]) -> tuple[Site, list[Service]]:
        site = session.get(Site, site_id)
        if site is None:
            raise NotFound(_("There is no site '%(site)s'.", site=site_id))
        if not service_ids:
            raise InvalidInput(_("Choose at least one service."), "empty_journey")
        if len(service_ids) > self.max_services:
            raise InvalidInput(_("At most %(count)s services can be chosen for one visit.",
                                 count=self.max_services), "too_many_services")
        if len(set(service_ids)) != len(service_ids):
            raise InvalidInput(_("A service was chosen twice."), "duplicate_service")
        if language not in site.languages:
            raise InvalidInput(_("Language '%(language)s' is not offered at this site.",
                                 language=language), "unknown_language")
        unknown_needs = set(needs) - set(NEEDS)
        if unknown_needs:
            raise InvalidInput(_("Unknown need(s): %(needs)s. Known needs: %(known)s.",
                                 needs=", ".join(sorted(unknown_needs)),
                                 known=", ".join(NEEDS)), "unknown_need")
        services = {s.id: s for s in session.scalars(
            select(Service).where(Service.site_id == site_id, Service.id.in_(service_ids),
                                  Service.active, Service.walk_in))}
        missing = [str(service_id) for service_id in service_ids if service_id not in services]
        if missing:
            raise InvalidInput(_("Unknown service(s) for walk-in visitors: %(services)s.",
                                 services=", ".join(missing)), "unknown_service")
        return site, [services[service_id] for service_id in service_ids]

    def _insert_ticket(self, site_id: str, service_ids: Sequence[int], language: str,
                       needs: list[str], idempotency_key: str | None,
                       fingerprint: str, reseed: bool, kiosk: str | None) -> Ticket:
        now = self.clock()
        with self.database.session() as session:
            site, services = self._validate_issue(session, site_id, service_ids, language, needs)
            day = service_day(now, site.timezone)
            prefix = services[0].prefix
            sequence = self._next_sequence(session, site_id, day, prefix, reseed)
            ticket = Ticket(
                site_id=site_id, number=f"{prefix}-{sequence:03d}", prefix=prefix,
                sequence=sequence, service_day=day, language=language, needs=needs,
                token=secrets.token_urlsafe(16), idempotency_key=idempotency_key,
                request_fingerprint=fingerprint, issued_at=now, arrived_at=now,
            )
            for position, service in enumerate(services):
                first = position == 0
                ticket.steps.append(Step(
                    service=service, position=position,
                    state=StepState.WAITING if first else StepState.PLANNED,
                    queued_at=now if first else None,
                ))
            session.add(ticket)
            session.flush()
            record_event(session, site_id, "issued", now, ticket_id=ticket.id,
                         services=[s.id for s in services], language=language, needs=needs,
                         kiosk=kiosk)
            record_event(session, site_id, "queued", now, ticket_id=ticket.id,
                         step_id=ticket.steps[0].id, service_id=services[0].id)
        return ticket

    def _next_sequence(self, session: Session, site_id: str, day: dt.date, prefix: str,
                       reseed: bool) -> int:
        """Redis hands out numbers; SQL's highest one is the floor when Redis lost count."""
        number = None if reseed else self.live.next_number(site_id, day, prefix)
        if number is None:
            highest = session.scalar(
                select(func.coalesce(func.max(Ticket.sequence), 0))
                .where(Ticket.site_id == site_id, Ticket.service_day == day,
                       Ticket.prefix == prefix))
            number = self.live.next_number(site_id, day, prefix, floor=highest)
        return number

    # Counters ---------------------------------------------------------------

    def open_counter(self, counter_id: int, staff_id: int | None = None,
                     service_ids: Sequence[int] | None = None,
                     languages: Sequence[str] | None = None) -> Counter:
        """Put a counter on duty for some of its services, in some languages.

        Defaults: every service the counter offers, and the languages the
        counter's usual staff speak plus those of the member of staff.
        """
        with self.database.session() as session:
            counter = self._counter(session, counter_id, lock=True)
            offered = {service.id for service in counter.services if service.active}
            chosen = list(offered) if service_ids is None else list(service_ids)
            if not chosen or not set(chosen) <= offered:
                raise InvalidInput(_("Choose one or more of the services this counter offers."),
                                   "invalid_services")
            staff = session.get(Staff, staff_id) if staff_id is not None else None
            if staff_id is not None and staff is None:
                raise NotFound(_("There is no member of staff %(staff)s.", staff=staff_id))
            if languages is None:
                languages = list(dict.fromkeys(
                    list(counter.languages) + (list(staff.languages) if staff else [])))
            unknown = set(languages) - set(counter.site.languages)
            if unknown:
                raise InvalidInput(_("Language(s) not offered at this site: %(languages)s.",
                                     languages=", ".join(sorted(unknown))), "unknown_language")
            counter.status = CounterStatus.OPEN
            counter.staff_id = staff_id
            counter.duty_service_ids = sorted(chosen)
            counter.duty_languages = list(languages)
            record_event(session, counter.site_id, "counter_opened", self.clock(),
                         counter_id=counter.id, staff_id=staff_id, services=sorted(chosen),
                         languages=list(languages))
            duty = counter_duty(session, counter)
        self._duty_changed(counter.site_id, counter.id, duty)
        return counter

    def pause_counter(self, counter_id: int) -> Counter:
        """Stop calling at a counter for a while; a called ticket goes back to its place."""
        return self._set_status(counter_id, CounterStatus.PAUSED, "counter_paused")

    def resume_counter(self, counter_id: int) -> Counter:
        """Call again at a paused counter."""
        return self._set_status(counter_id, CounterStatus.OPEN, "counter_resumed")

    def close_counter(self, counter_id: int) -> Counter:
        """Take a counter off duty; a called ticket goes back to its place."""
        return self._set_status(counter_id, CounterStatus.CLOSED, "counter_closed")

    def _set_status(self, counter_id: int, status: CounterStatus, kind: str) -> Counter:
        requeued = None
        with self.database.session() as session:
            counter = self._counter(session, counter_id, lock=True)
            if counter.status == CounterStatus.CLOSED and status != CounterStatus.CLOSED:
                raise Conflict(_("This counter is closed; open it first."), "counter_closed")
            active = self._active_step(session, counter.id)
            if active is not None and active.state == StepState.SERVING:
                raise Conflict(_("Finish or refer ticket %(number)s first.",
                                 number=active.ticket.number), "counter_busy")
            now = self.clock()
            if active is not None:  # called but not yet at the desk: give back its place
                self._change(session, active, (StepState.CALLED,), StepState.WAITING, now,
                             "returned", values={"counter_id": None, "staff_id": None})
                requeued = queued_step(active)
            counter.status = status
            record_event(session, counter.site_id, kind, now, counter_id=counter.id,
                         staff_id=counter.staff_id)
            duty = counter_duty(session, counter)
        if requeued is not None:
            self.live.enqueue(counter.site_id, requeued)
            self._ticket_changed(active.ticket)
            self._queue_changed(counter.site_id)
        self._duty_changed(counter.site_id, counter.id, duty)
        return counter

    # Calling ----------------------------------------------------------------

    def call_next(self, counter_id: int, staff_id: int | None = None) -> CallOutcome:
        """Call the waiting step this counter should serve next, if any.

        The choice and the claim are one Redis script (no two counters ever
        get the same step); the SQL update is conditional on the step still
        waiting, so a stale claim is dropped and the next best one taken.
        """
        with self.database.session() as session:
            counter = self._counter(session, counter_id)
            if counter.status != CounterStatus.OPEN:
                raise Conflict(_("This counter is not open for calling."), "counter_not_open")
            site_id = counter.site_id
            queues = [
                ServiceQueue(service.id, service.target_wait_minutes * 60.0,
                             service.mean_handling_minutes * 60.0)
                for service in counter.services
                if service.id in counter.duty_service_ids and service.active
            ]
            staff_id = staff_id if staff_id is not None else counter.staff_id
        self._free_duty(site_id, counter_id)
        for _attempt in range(CALL_ATTEMPTS):
            now = self.clock()
            result = self.live.call_next(site_id, counter_id, queues, self.policy, epoch(now))
            if result.status in ("not_open", "busy"):
                # Redis disagrees with SQL (a flush, or a cancel that raced a call):
                # SQL is the record, so re-read the desk from it and try again.
                self._free_duty(site_id, counter_id)
                continue
            if result.status == "empty":
                return CallOutcome(None, result.held, result.retry_after)
            step = self._claim(site_id, counter_id, staff_id, result.step_id, now)
            if step is not None:
                self._announce(step)
                self._queue_changed(site_id)
                self._counter_changed(site_id, counter_id)
                return CallOutcome(step, result.held)
            # SQL refused the claim: the step left meanwhile, or the desk was paused
            # or given a ticket. Give the step back its place if it still waits.
            self._requeue_if_waiting(site_id, result.step_id)
            self._free_duty(site_id, counter_id)
        raise Conflict(_("The queue changed while calling; please call again."), "retry")

    def _free_duty(self, site_id: str, counter_id: int) -> None:
        """Make Redis hold the desk's duty as SQL has it; refuse if it cannot call now."""
        with self.database.session() as session:
            counter = self._counter(session, counter_id)
            if counter.status != CounterStatus.OPEN:
                raise Conflict(_("This counter is not open for calling."), "counter_not_open")
            duty = counter_duty(session, counter)
        if duty.step_id is not None:
            self.live.set_duty(site_id, counter_id, duty)
            raise Conflict(_("This desk already has a ticket called; finish it first."),
                           "counter_busy")
        self.live.set_duty(site_id, counter_id, duty)

    def _requeue_if_waiting(self, site_id: str, step_id: int) -> None:
        with self.database.session() as session:
            step = self._load_step(session, step_id)
            if step.state == StepState.WAITING:
                self.live.enqueue(site_id, queued_step(step))

    def _claim(self, site_id: str, counter_id: int, staff_id: int | None, step_id: int,
               now: dt.datetime) -> Step | None:
        try:
            with self.database.session() as session:
                self._counter(session, counter_id, lock=True)
                # Conditional on the step still waiting, the desk still open, and the
                # desk holding no other step: SQL, the record, enforces invariant 2
                # even if Redis was wrong.
                other = aliased(Step)
                claimed = session.execute(
                    update(Step)
                    .where(Step.id == step_id, Step.state == StepState.WAITING,
                           exists().where(Counter.id == counter_id,
                                          Counter.status == CounterStatus.OPEN),
                           ~exists().where(other.counter_id == counter_id,
                                           other.state.in_((StepState.CALLED,
                                                            StepState.SERVING))))
                    .values(state=StepState.CALLED, counter_id=counter_id, staff_id=staff_id,
                            called_at=now, recall_count=0)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if not claimed:
                    return None
                step = self._load_step(session, step_id)
                record_event(session, site_id, "called", now, ticket_id=step.ticket_id,
                             step_id=step.id, counter_id=counter_id, staff_id=staff_id,
                             waited_seconds=(now - step.queued_at).total_seconds())
            return step
        except Exception as error:
            # SQL failed after Redis claimed the step: give it back its place.
            with self.database.session() as session:
                step = self._load_step(session, step_id)
                if step.state == StepState.WAITING:
                    self.live.enqueue(site_id, queued_step(step))
                counter = self._counter(session, counter_id)
                self.live.set_duty(site_id, counter_id, counter_duty(session, counter))
            if isinstance(error, IntegrityError) and any(
                    name in str(error.orig) for name in ACTIVE_STEP_INDEX_NAMES):
                # The index that allows one active step per desk refused it: the
                # last line of defence behind the lock above.
                raise Conflict(_("This desk already has a ticket called; finish it first."),
                               "counter_busy") from error
            raise

    def recall(self, counter_id: int) -> Step:
        """Announce the called ticket again; past the site's limit it becomes a no-show."""
        with self.database.session() as session:
            step = self._current(session, counter_id, (StepState.CALLED,))
            now = self.clock()
            limit_reached = step.recall_count >= step.ticket.site.recall_limit
            if limit_reached:
                self._end_step(session, step, (StepState.CALLED,), StepState.NO_SHOW, now,
                               "no_show", data={"reason": "recall_limit"})
            else:
                self._change(session, step, (StepState.CALLED,), StepState.CALLED, now,
                             "recalled", values={"recall_count": step.recall_count + 1,
                                                 "called_at": now},
                             data={"recall": step.recall_count + 1})
        if limit_reached:
            self._after_end(step, None)
        else:
            recalled = self._reload(step.id)
            self._announce(recalled)
            with self.database.session() as session:
                duty = counter_duty(session, session.get(Counter, counter_id))
            self._duty_changed(recalled.ticket.site_id, counter_id, duty)
        return step

    def start(self, counter_id: int) -> Step:
        """The visitor has come to the desk: start serving the called step."""
        with self.database.session() as session:
            step = self._current(session, counter_id, (StepState.CALLED,))
            now = self.clock()
            self._change(session, step, (StepState.CALLED,), StepState.SERVING, now,
                         "started", values={"started_at": now})
            duty = counter_duty(session, step.counter)
        self._duty_changed(step.ticket.site_id, counter_id, duty)  # free_at counts from now
        self._ticket_changed(step.ticket)
        return step

    def no_show(self, counter_id: int) -> Step:
        """The called visitor did not come; the rest of their journey is cancelled."""
        with self.database.session() as session:
            step = self._current(session, counter_id, (StepState.CALLED,))
            ended = self._end_step(session, step, (StepState.CALLED,), StepState.NO_SHOW,
                                   self.clock(), "no_show")
        self._after_end(step, ended)
        return step

    def finish(self, counter_id: int) -> Step:
        """The service is done; the visit's next planned service, if any, starts queuing."""
        with self.database.session() as session:
            step = self._current(session, counter_id, (StepState.SERVING,))
            ended = self._end_step(session, step, (StepState.SERVING,), StepState.DONE,
                                   self.clock(), "finished")
        self._after_end(step, ended)
        return step

    def refer(self, counter_id: int, service_id: int, note: str | None = None) -> Step:
        """Send the visitor on to another service without queuing from zero.

        The new step queues by the visit's arrival time, so the visitor keeps
        their place; it comes next in the journey, before any planned steps.
        """
        note = (note or "").strip() or None
        if note is not None and len(note) > 500:
            raise InvalidInput(_("The note for the next desk is limited to %(count)s "
                                 "characters.", count=500), "note_too_long")
        with self.database.session() as session:
            step = self._current(session, counter_id, (StepState.CALLED, StepState.SERVING))
            service = session.get(Service, service_id)
            if service is None or service.site_id != step.ticket.site_id or not service.active:
                raise InvalidInput(_("There is no service %(service)s at this site.",
                                     service=service_id), "unknown_service")
            if service.id == step.service_id:
                raise InvalidInput(_("Refer to a different service."), "same_service")
            now = self.clock()
            self._change(session, step, (StepState.CALLED, StepState.SERVING),
                         StepState.REFERRED, now, "referred", values={"ended_at": now},
                         data={"to_service_id": service.id})
            for later in step.ticket.steps:
                if later.position > step.position:
                    later.position += 1
            referral = Step(ticket=step.ticket, service=service, position=step.position + 1,
                            state=StepState.WAITING, queued_at=now, note=note,
                            referred_from_id=step.id)
            session.add(referral)
            session.flush()
            record_event(session, step.ticket.site_id, "queued", now, ticket_id=step.ticket_id,
                         step_id=referral.id, service_id=service.id, referred_from=step.id)
            referral = self._load_step(session, referral.id)
        self._after_end(step, referral)
        return referral

    def cancel(self, token: str) -> Ticket:
        """The visitor leaves: every step not yet served is cancelled."""
        with self.database.session() as session:
            ticket = self.ticket_by_token(token, session)
            current = ticket.current_step
            if current is not None and current.state == StepState.SERVING:
                raise Conflict(_("This ticket is being served at a desk now."), "serving")
            now = self.clock()
            was_waiting = current if current and current.state == StepState.WAITING else None
            was_called = current if current and current.state == StepState.CALLED else None
            cancellable = (StepState.PLANNED, StepState.WAITING, StepState.CALLED)
            open_steps = [s for s in ticket.steps if s.state in cancellable]
            if not open_steps:
                raise Conflict(_("This ticket is already finished."), "finished")
            for step in open_steps:
                # Only from the state read above: a desk calling this step meanwhile
                # makes the cancel fail cleanly rather than strand that desk.
                self._change(session, step, (step.state,), StepState.CANCELLED, now,
                             "cancelled", values={"ended_at": now})
            called_counter = was_called.counter if was_called else None
            duty = counter_duty(session, called_counter) if called_counter else None
        if was_waiting is not None:
            self.live.remove(ticket.site_id, queued_step(was_waiting))
        if called_counter is not None:
            self._duty_changed(ticket.site_id, called_counter.id, duty)
        self._ticket_changed(ticket)
        self._queue_changed(ticket.site_id)
        return ticket

    # Reading ----------------------------------------------------------------

    def ticket_by_token(self, token: str, session: Session | None = None) -> Ticket:
        """The ticket behind a mobile-ticket token, with its steps."""
        query = (select(Ticket).where(Ticket.token == token)
                 .options(selectinload(Ticket.steps).selectinload(Step.service),
                          selectinload(Ticket.steps).selectinload(Step.counter)))
        if session is not None:
            ticket = session.scalars(query).first()
        else:
            with self.database.session() as own:
                ticket = own.scalars(query).first()
        if ticket is None:
            raise NotFound(_("There is no such ticket."))
        return ticket

    def position(self, ticket: Ticket) -> int | None:
        """How many visits waiting for the same service arrived before this one."""
        current = ticket.current_step
        if current is None or current.state != StepState.WAITING:
            return None
        return self.live.ahead_of(ticket.site_id, queued_step(current))

    def queue_overview(self, site_id: str) -> list[dict]:
        """Per active service: how many wait, and since when the oldest waits."""
        with self.database.session() as session:
            services = session.scalars(
                select(Service).where(Service.site_id == site_id, Service.active)
                .order_by(Service.position)).all()
        overview = []
        for service in services:
            waiting = self.live.waiting(site_id, service.id)
            overview.append({
                "service_id": service.id, "service": service.key, "waiting": len(waiting),
                "oldest_arrival": (dt.datetime.fromtimestamp(waiting[0][1], dt.UTC)
                                   .replace(tzinfo=None) if waiting else None),
            })
        return overview

    # Internals --------------------------------------------------------------

    @staticmethod
    def _counter(session: Session, counter_id: int, lock: bool = False) -> Counter:
        # `lock`: whoever changes what a desk holds or whether it may call takes its row
        # first, so that on PostgreSQL (READ COMMITTED) a claim and a close or a second
        # claim at one desk queue up instead of each missing the other's uncommitted
        # change. SQLite's BEGIN IMMEDIATE already serialises writers.
        counter = session.get(Counter, counter_id, with_for_update=lock)
        if counter is None or not counter.active:
            raise NotFound(_("There is no counter %(counter)s.", counter=counter_id))
        return counter

    @staticmethod
    def _load_step(session: Session, step_id: int) -> Step:
        return session.scalars(
            select(Step).where(Step.id == step_id).options(
                selectinload(Step.ticket).selectinload(Ticket.steps),
                selectinload(Step.service), selectinload(Step.counter))
        ).one()

    def _active_step(self, session: Session, counter_id: int) -> Step | None:
        step_id = session.scalar(
            select(Step.id).where(Step.counter_id == counter_id,
                                  Step.state.in_((StepState.CALLED, StepState.SERVING))))
        return None if step_id is None else self._load_step(session, step_id)

    def _current(self, session: Session, counter_id: int,
                 expected: tuple[StepState, ...]) -> Step:
        self._counter(session, counter_id)
        step = self._active_step(session, counter_id)
        if step is None:
            raise Conflict(_("This desk has no ticket called."), "no_ticket")
        if step.state not in expected:
            wanted = " or ".join(state.value for state in expected)
            raise Conflict(_("Ticket %(number)s is %(state)s, not %(wanted)s.",
                             number=step.ticket.number, state=step.state.value,
                             wanted=wanted), "wrong_state")
        return step

    @staticmethod
    def _change(session: Session, step: Step, expected: tuple[StepState, ...],
                new: StepState, now: dt.datetime, kind: str, *,
                values: dict | None = None, data: dict | None = None) -> None:
        """Move a step to `new` only if it is still in an `expected` state, with an event.

        `values` are further columns to set; `data` goes into the event.
        """
        changed = session.execute(
            update(Step).where(Step.id == step.id, Step.state.in_(expected))
            .values(state=new, **(values or {}))
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            raise Conflict(_("Ticket %(number)s changed meanwhile; please look again.",
                             number=step.ticket.number), "changed")
        session.refresh(step)
        record_event(session, step.ticket.site_id, kind, now, ticket_id=step.ticket_id,
                     step_id=step.id, counter_id=step.counter_id, staff_id=step.staff_id,
                     **(data or {}))

    def _end_step(self, session: Session, step: Step, expected: tuple[StepState, ...],
                  new: StepState, now: dt.datetime, kind: str,
                  data: dict | None = None) -> Step | None:
        """End a step; returns the journey's next step if it now starts queuing."""
        self._change(session, step, expected, new, now, kind, values={"ended_at": now},
                     data=data)
        following = [s for s in step.ticket.steps
                     if s.position > step.position and s.state == StepState.PLANNED]
        if new == StepState.NO_SHOW:
            for later in following:
                self._change(session, later, (StepState.PLANNED,), StepState.CANCELLED, now,
                             "cancelled", values={"ended_at": now})
            return None
        if not following:
            return None
        upcoming = following[0]
        self._change(session, upcoming, (StepState.PLANNED,), StepState.WAITING, now, "queued",
                     values={"queued_at": now})
        return self._load_step(session, upcoming.id)

    def _after_end(self, ended: Step, upcoming: Step | None) -> None:
        """After commit: free the counter in Redis and queue the next step, if any."""
        with self.database.session() as session:
            counter = session.get(Counter, ended.counter_id)
            duty = counter_duty(session, counter) if counter else None
        if counter is not None:
            self._duty_changed(counter.site_id, counter.id, duty)
        if upcoming is not None and upcoming.state == StepState.WAITING:
            self.live.enqueue(ended.ticket.site_id, queued_step(upcoming))
        self._ticket_changed(ended.ticket)
        self._queue_changed(ended.ticket.site_id)

    # Publishing, after commit: hints for pages, which then re-read the state.

    def _announce(self, step: Step) -> None:
        site_id = step.ticket.site_id
        rooms = [f"site:{site_id}", f"ticket:{step.ticket.token}"]
        if step.counter.zone:
            rooms.append(f"site:{site_id}:{step.counter.zone}")
        self.publish("called", call_announcement(step), rooms)

    def _ticket_changed(self, ticket: Ticket) -> None:
        self.publish("ticket_changed", {"ticket": ticket.number}, [f"ticket:{ticket.token}"])

    def _queue_changed(self, site_id: str) -> None:
        self.publish("queue_changed", {"site": site_id}, [f"site:{site_id}", f"staff:{site_id}"])

    def _counter_changed(self, site_id: str, counter_id: int) -> None:
        self.publish("counter_changed", {"counter": counter_id},
                     [f"staff:{site_id}", f"counter:{counter_id}"])

    def _duty_changed(self, site_id: str, counter_id: int, duty: Duty | None) -> None:
        """Record a counter's new duty in Redis and tell the staff."""
        self.live.set_duty(site_id, counter_id, duty)
        self._counter_changed(site_id, counter_id)

    def _reload(self, step_id: int) -> Step:
        with self.database.session() as session:
            return self._load_step(session, step_id)

