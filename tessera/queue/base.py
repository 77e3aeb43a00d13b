"""What the queue engine's parts share: the two stores, loading and moving steps, publishing.

SQL is the system of record and is written first; Redis holds the live queues.
Every state change goes through `EngineBase._change`, a conditional update
(`WHERE state IN ...`) that appends its event in the same transaction.
"""

import datetime as dt
from collections.abc import Callable

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from tessera.clock import epoch, utc_now
from tessera.database import Database
from tessera.errors import Conflict, NotFound
from tessera.events import record_event
from tessera.models import Counter, CounterStatus, Service, Step, StepState, Ticket
from tessera.queue.live import Duty, LiveState, QueuedStep
from tessera.queue.routing import TESSERA, RoutingPolicy
from tessera.sites.retirement import settle_retirements

# publish(event, payload, rooms): how the engine tells the world, after a commit.
Publisher = Callable[[str, dict, list[str]], None]


def queued_step(step: Step) -> QueuedStep:
    """The routing view of a waiting step, from its SQL row."""
    ticket = step.ticket
    return QueuedStep(
        step_id=step.id, service_id=step.service_id, arrived_at=epoch(ticket.arrived_at),
        language=ticket.language, priority="priority" in ticket.needs,
        reserved_counter=step.reserved_counter_id,
        appointment_due=epoch(step.appointment_due) if step.appointment_due else 0.0,
    )


def counter_duty(session: Session, counter: Counter) -> Duty | None:
    """A counter's duty as Redis should hold it, derived from SQL."""
    if counter.status == CounterStatus.CLOSED:
        return None
    # Columns, not Step objects: the session may hold this step from an earlier read
    # (as waiting, before a desk called it), and an object would be that stale one.
    active = session.execute(
        select(Step.id, Step.started_at, Step.called_at, Service.mean_handling_minutes)
        .join(Step.service)
        .where(Step.counter_id == counter.id, Step.state.in_((StepState.CALLED,
                                                              StepState.SERVING)))
    ).first()
    free_at = 0.0
    if active is not None:
        began = active.started_at or active.called_at
        if began is not None:
            free_at = epoch(began) + active.mean_handling_minutes * 60
    return Duty(
        service_ids=tuple(counter.duty_service_ids), languages=tuple(counter.duty_languages),
        paused=counter.status == CounterStatus.PAUSED,
        step_id=active.id if active else None, free_at=free_at,
    )


def publish_nothing(_event: str, _payload: dict, _rooms: list[str]) -> None:
    """The publisher of an engine nobody listens to (simulations, benchmarks, CLI)."""


class EngineBase:
    """The stores, reads of a ticket and the queue, and the helpers the engine's parts share."""

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

    def _heal(self, site_id: str) -> None:
        """Repair the site's live state first if Redis lost it or a write to it failed."""
        # Imported here: the repair builds on this module.
        from tessera.queue.reconcile import heal_if_stale

        heal_if_stale(self.database, self.live, site_id, self.clock())

    def _settle_retirements(self, session: Session, site_id: str) -> None:
        """A step ended in this transaction: a retiring service whose last open step it
        was retires with it (tessera/sites/retirement.py)."""
        settle_retirements(session, site_id, self.clock())

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

    def _release_reserved(self, session: Session, counter_id: int, now: dt.datetime) -> None:
        """A desk closes: the steps transferred to it wait for any desk again, in their place."""
        for step in session.scalars(select(Step).where(Step.reserved_counter_id == counter_id,
                                                       Step.state == StepState.WAITING)).all():
            self._change(session, step, (StepState.WAITING,), StepState.WAITING, now,
                         "released", values={"reserved_counter_id": None},
                         data={"from_counter_id": counter_id})

    def _requeue_released(self, site_id: str, counter_id: int) -> None:
        """After commit: move what Redis held reserved for a closed desk to its service queues."""
        step_ids = [int(member.split("|", 1)[0])
                    for member, _arrival in self.live.reserved(site_id, counter_id)]
        self.live.drop_reserved(site_id, counter_id)
        with self.database.session() as session:
            for step in session.scalars(select(Step).where(Step.id.in_(step_ids),
                                                           Step.state == StepState.WAITING)
                                        .options(selectinload(Step.ticket))).all():
                self.live.enqueue(site_id, queued_step(step))
        self._queue_changed(site_id)

    # Publishing, after commit: hints for pages, which then re-read the state.

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
