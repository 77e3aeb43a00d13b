"""Calling and moving a visit along: call next, recall, start, no-show, finish, refer, cancel.

The choice and the claim of the next step are one Redis script (call_next.lua, or
claim_step.lua for a step transferred to the desk); SQL then records the claim with a conditional
update, and every later transition is conditional on the state it was read in.
"""

import datetime as dt
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import exists, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from tessera.clock import epoch
from tessera.errors import Conflict, InvalidInput
from tessera.events import record_event
from tessera.models import Counter, CounterStatus, Service, Step, StepState, Ticket
from tessera.queue.base import EngineBase, counter_duty, queued_step
from tessera.queue.live import ServiceQueue

# How each database names the index that allows one active step per desk when it refuses.
ACTIVE_STEP_INDEX_NAMES = ("uq_step_active_counter", "UNIQUE constraint failed: step.counter_id")
# A claim from Redis can be stale (the step was cancelled a moment ago); try again.
CALL_ATTEMPTS = 5
# After a no-show, the rest of the journey is cancelled, or kept queuing.
REMAINING_CHOICES = ("cancel", "keep")


@dataclass(frozen=True)
class CallOutcome:
    """The answer to a counter's call-next: a step, or why there is none."""

    step: Step | None
    held: int = 0  # steps kept briefly for a colleague who speaks their language
    retry_after: float | None = None  # seconds until such a colleague should be free


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


class Calling(EngineBase):
    """The engine's part that calls steps at counters and moves them through their states."""

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
        # A lost or stale Redis would answer "nobody waits" while visitors wait.
        self._heal(site_id)
        self._free_duty(site_id, counter_id)
        for _attempt in range(CALL_ATTEMPTS):
            now = self.clock()
            # A step transferred to this desk comes first; only this desk may call it.
            result = self.live.claim(site_id, counter_id, epoch(now))
            if result.status != "called":
                result = self.live.call_next(site_id, counter_id, queues, self.policy,
                                             epoch(now))
            if result.status in ("not_open", "busy"):
                # Redis disagrees with SQL (a flush, or a cancel that raced a call):
                # SQL is the record, so re-read the desk from it and try again.
                self._free_duty(site_id, counter_id)
                continue
            if result.status == "empty":
                return CallOutcome(None, result.held, result.retry_after)
            step = self._claim(site_id, counter_id, staff_id, result.step_id, now)
            if step is not None:
                self._called(step)
                return CallOutcome(step, result.held)
            # SQL refused the claim: the step left meanwhile, or the desk was paused
            # or given a ticket. Give the step back its place if it still waits.
            self._requeue_if_waiting(site_id, result.step_id)
            self._free_duty(site_id, counter_id)
        raise Conflict(_("The queue changed while calling; please call again."), "retry")

    def _called(self, step: Step) -> None:
        """After a claim's commit: the desk's duty as SQL has it, the announcement, the hints."""
        site_id = step.ticket.site_id
        with self.database.session() as session:
            duty = counter_duty(session, session.get(Counter, step.counter_id))
        self._announce(step)
        self._queue_changed(site_id)
        self._duty_changed(site_id, step.counter_id, duty)

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
               now: dt.datetime, data: dict | None = None) -> Step | None:
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
                            called_at=now, recall_count=0, reserved_counter_id=None)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if not claimed:
                    return None
                step = self._load_step(session, step_id)
                record_event(session, site_id, "called", now, ticket_id=step.ticket_id,
                             step_id=step.id, counter_id=counter_id, staff_id=staff_id,
                             waited_seconds=(now - step.queued_at).total_seconds(),
                             **(data or {}))
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

    def recall(self, counter_id: int, confirm_no_show: bool = False,
               remaining: str = "cancel") -> Step:
        """Announce the called ticket again, up to the site's `recall_limit`.

        A recall past the limit would make the step a no-show: it is refused
        (409 `recall_limit`) unless `confirm_no_show`, so that a visitor is never
        marked absent by one click too many; `remaining` then says what becomes
        of the rest of the journey, as for `no_show`.
        """
        with self.database.session() as session:
            step = self._current(session, counter_id, (StepState.CALLED,))
            limit_reached = step.recall_count >= step.ticket.site.recall_limit
            if limit_reached and not confirm_no_show:
                raise Conflict(_("Ticket %(number)s has had its last recall; confirm to "
                                 "mark it as a no-show.", number=step.ticket.number),
                               "recall_limit", recalls_left=0)
            if not limit_reached:
                now = self.clock()
                self._change(session, step, (StepState.CALLED,), StepState.CALLED, now,
                             "recalled", values={"recall_count": step.recall_count + 1,
                                                 "called_at": now},
                             data={"recall": step.recall_count + 1})
        if limit_reached:  # confirmed; _end_current checks again that it is still called
            return self._end_current(counter_id, (StepState.CALLED,), StepState.NO_SHOW,
                                     "no_show", remaining, {"reason": "recall_limit"})
        recalled = self._reload(step.id)
        self._called(recalled)
        return recalled

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

    def no_show(self, counter_id: int, remaining: str = "cancel") -> Step:
        """The called visitor did not come.

        `remaining`: "cancel" (the default) cancels the rest of their journey;
        "keep" queues its next service at the visit's arrival time, as a finish does.
        """
        return self._end_current(counter_id, (StepState.CALLED,), StepState.NO_SHOW,
                                 "no_show", remaining)

    def finish(self, counter_id: int) -> Step:
        """The service is done; the visit's next planned service, if any, starts queuing."""
        return self._end_current(counter_id, (StepState.SERVING,), StepState.DONE, "finished",
                                 "keep")

    def _end_current(self, counter_id: int, expected: tuple[StepState, ...], new: StepState,
                     kind: str, remaining: str, data: dict | None = None) -> Step:
        """End the desk's step; the journey goes on ("keep") or is cancelled ("cancel")."""
        if remaining not in REMAINING_CHOICES:
            raise InvalidInput(_("'remaining' must be 'cancel' or 'keep'."), "invalid_remaining")
        with self.database.session() as session:
            step = self._current(session, counter_id, expected)
            ended = self._end_step(session, step, expected, new, self.clock(), kind,
                                   cancel_rest=remaining == "cancel", data=data)
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
            if service.retiring:
                raise InvalidInput(_("This service is being retired: refer the visitor to "
                                     "another one."), "service_retiring")
            if service.id == step.service_id:
                raise InvalidInput(_("Refer to a different service."), "same_service")
            if any(other.service_id == service.id and other.state != StepState.CANCELLED
                   for other in step.ticket.steps):
                raise Conflict(_("This service is already in the visit's journey."),
                               "already_in_journey")
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
            self._settle_retirements(session, step.ticket.site_id)
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
            self._settle_retirements(session, ticket.site_id)
        if was_waiting is not None:
            self.live.remove(ticket.site_id, queued_step(was_waiting))
        if called_counter is not None:
            self._duty_changed(ticket.site_id, called_counter.id, duty)
        self._ticket_changed(ticket)
        self._queue_changed(ticket.site_id)
        return ticket

    # Internals --------------------------------------------------------------

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

    def _end_step(self, session: Session, step: Step, expected: tuple[StepState, ...],
                  new: StepState, now: dt.datetime, kind: str, *, cancel_rest: bool,
                  data: dict | None = None) -> Step | None:
        """End a step; returns the journey's next step if it now starts queuing.

        The ending event names the steps it queued or cancelled, so that an undo
        (desk_actions.py) knows what to put back.
        """
        following = [s for s in step.ticket.steps
                     if s.position > step.position and s.state == StepState.PLANNED]
        data = dict(data or {})
        if cancel_rest and following:
            data["cancelled_steps"] = [later.id for later in following]
        elif following:
            data["queued_step"] = following[0].id
        self._change(session, step, expected, new, now, kind, values={"ended_at": now},
                     data=data)
        if cancel_rest:
            for later in following:
                self._change(session, later, (StepState.PLANNED,), StepState.CANCELLED, now,
                             "cancelled", values={"ended_at": now})
        self._settle_retirements(session, step.ticket.site_id)
        if cancel_rest or not following:
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

    # Published after commit, like the hints in EngineBase.

    def _announce(self, step: Step) -> None:
        site_id = step.ticket.site_id
        rooms = [f"site:{site_id}", f"ticket:{step.ticket.token}"]
        if step.counter.zone:
            rooms.append(f"site:{site_id}:{step.counter.zone}")
        self.publish("called", call_announcement(step), rooms)

    def _reload(self, step_id: int) -> Step:
        with self.database.session() as session:
            return self._load_step(session, step_id)
