"""Actions at a desk beyond calling in turn: call a chosen ticket, transfer it, undo.

- **Call a chosen ticket** from the desk's waiting list, with a reason: one
  atomic claim in Redis (claim_step.lua) and a conditional SQL update, as for
  call-next.
- **Transfer** the ticket at the desk to a named desk: the step waits again at
  the visit's arrival time, reserved in SQL (`step.reserved_counter_id`) for
  that desk, which calls it before anything else; in Redis it waits in that
  desk's reserved set, never in its service queue, so nobody else is offered it.
- **Undo** the desk's last finish or no-show, for two minutes and only while
  nothing happened at the desk since: the step comes back, the next service
  that the finish queued goes back to planned, and steps a no-show cancelled
  come back. Every SQL update is conditional on the state the undo expects.
"""

import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.clock import epoch
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.models import Counter, CounterStatus, Event, Step, StepState
from tessera.queue.base import counter_duty, queued_step
from tessera.queue.calling import Calling

REASON_LIMIT = 200
UNDO_WINDOW = dt.timedelta(minutes=2)
# What undo puts back: the state each ending leaves from, and the state it restores.
UNDOABLE = {"finished": (StepState.DONE, StepState.SERVING),
            "no_show": (StepState.NO_SHOW, StepState.CALLED)}


def latest_desk_event(session: Session, counter_id: int) -> Event | None:
    """The last thing that happened at a desk (any event that names it)."""
    return session.scalars(select(Event).where(Event.counter_id == counter_id)
                           .order_by(Event.id.desc()).limit(1)).first()


def undoable_ending(session: Session, counter_id: int, now: dt.datetime) -> Event | None:
    """The desk's finish or no-show that may still be undone now, if any."""
    last = latest_desk_event(session, counter_id)
    if last is None or last.kind not in UNDOABLE or now - last.at > UNDO_WINDOW:
        return None
    return last


class DeskActions(Calling):
    """The engine's part for a desk's chosen calls, transfers and undo."""

    def call_step(self, counter_id: int, step_id: int, reason: str,
                  staff_id: int | None = None) -> Step:
        """Call one chosen waiting ticket out of turn, saying why (the `called` event keeps it).

        Still one atomic claim in Redis (the step leaves its queue and the desk's
        duty is set in one script, or another desk had it first) and a conditional
        SQL update, so a step is never called twice.
        """
        reason = (reason or "").strip()
        if not reason:
            raise InvalidInput(_("Say why you call this ticket out of turn."), "reason_required")
        if len(reason) > REASON_LIMIT:
            raise InvalidInput(_("The reason is limited to %(count)s characters.",
                                 count=REASON_LIMIT), "reason_too_long")
        with self.database.session() as session:
            counter = self._counter(session, counter_id)
            if counter.status != CounterStatus.OPEN:
                raise Conflict(_("This counter is not open for calling."), "counter_not_open")
            step = session.get(Step, step_id)
            if step is None or step.ticket.site_id != counter.site_id:
                raise NotFound(_("There is no such ticket waiting."))
            number = step.ticket.number
            if step.state != StepState.WAITING:
                raise Conflict(_("Ticket %(number)s is no longer waiting.", number=number),
                               "not_waiting")
            if step.reserved_counter_id not in (None, counter_id):
                raise Conflict(_("Ticket %(number)s was transferred to another desk.",
                                 number=number), "reserved")
            if (step.reserved_counter_id is None
                    and step.service_id not in counter.duty_service_ids):
                raise InvalidInput(_("This desk does not serve the service of ticket "
                                     "%(number)s.", number=number), "not_served_here")
            site_id, waiting = counter.site_id, queued_step(step)
            staff_id = staff_id if staff_id is not None else counter.staff_id
        self._free_duty(site_id, counter_id)
        now = self.clock()
        result = self.live.claim(site_id, counter_id, epoch(now), waiting)
        if result.status == "gone":
            raise Conflict(_("Another desk has called ticket %(number)s.", number=number),
                           "taken")
        if result.status != "called":  # the desk changed since _free_duty: say how
            self._free_duty(site_id, counter_id)
            raise Conflict(_("The queue changed while calling; please call again."), "retry")
        step = self._claim(site_id, counter_id, staff_id, step_id, now, {"reason": reason})
        if step is None:
            self._requeue_if_waiting(site_id, step_id)
            self._free_duty(site_id, counter_id)
            raise Conflict(_("Ticket %(number)s changed meanwhile; please look again.",
                             number=number), "changed")
        self._called(step)
        return step

    def transfer(self, counter_id: int, to_counter_id: int) -> Step:
        """Send the ticket at this desk to a named desk, keeping the visit's place.

        The step waits again at its arrival time, but only the named desk may call
        it: its call-next takes it first, or it calls it from its list.
        """
        if to_counter_id == counter_id:
            raise InvalidInput(_("Transfer to another desk."), "same_counter")
        with self.database.session() as session:
            # Both desks' rows, in id order, so two transfers between them cannot deadlock.
            desks = {desk_id: session.get(Counter, desk_id, with_for_update=True)
                     for desk_id in sorted((counter_id, to_counter_id))}
            step = self._current(session, counter_id, (StepState.CALLED, StepState.SERVING))
            target = desks[to_counter_id]
            if target is None or not target.active or target.site_id != step.ticket.site_id:
                raise InvalidInput(_("There is no desk %(counter)s at this site.",
                                     counter=to_counter_id), "unknown_counter")
            if target.status == CounterStatus.CLOSED:
                raise Conflict(_("That desk is closed; choose a desk on duty."),
                               "counter_closed")
            if step.service_id not in target.duty_service_ids:
                raise InvalidInput(_("That desk does not serve this ticket's service now."),
                                   "not_served_there")
            self._change(session, step, (StepState.CALLED, StepState.SERVING),
                         StepState.WAITING, self.clock(), "transferred",
                         values={"counter_id": None, "staff_id": None, "started_at": None,
                                 "reserved_counter_id": target.id},
                         data={"from_counter_id": counter_id, "to_counter_id": target.id})
            duty = counter_duty(session, desks[counter_id])
            site_id, waiting = step.ticket.site_id, queued_step(step)
        self.live.enqueue(site_id, waiting)
        self._duty_changed(site_id, counter_id, duty)
        self._counter_changed(site_id, to_counter_id)
        self._ticket_changed(step.ticket)
        self._queue_changed(site_id)
        return step

    def undo(self, counter_id: int) -> Step:
        """Undo the desk's last finish or no-show, within two minutes; returns the step back.

        Refused (409) when there is none, when two minutes have passed, when the
        desk did anything since, or when the next service was already called.
        """
        with self.database.session() as session:
            counter = self._counter(session, counter_id, lock=True)
            now = self.clock()
            last = latest_desk_event(session, counter_id)
            if last is None or last.kind not in UNDOABLE:
                raise Conflict(_("There is nothing to undo at this desk: only its last finish "
                                 "or no-show can be undone."), "nothing_to_undo")
            if now - last.at > UNDO_WINDOW:
                raise Conflict(_("Too late to undo: a finish or a no-show can be undone for "
                                 "two minutes."), "undo_expired")
            ended_state, back = UNDOABLE[last.kind]
            step = self._load_step(session, last.step_id)
            data = {"undid": last.kind, "event": last.id}
            self._change(session, step, (ended_state,), back, now, "undone",
                         values={"ended_at": None}, data=data)
            unqueued = None
            if last.data.get("queued_step"):
                upcoming = self._load_step(session, last.data["queued_step"])
                if upcoming.state != StepState.WAITING:
                    raise Conflict(_("Ticket %(number)s has already been called for its next "
                                     "service; it can no longer be undone.",
                                     number=step.ticket.number), "next_step_called")
                unqueued = queued_step(upcoming)
                self._change(session, upcoming, (StepState.WAITING,), StepState.PLANNED, now,
                             "undone", values={"queued_at": None}, data=data)
            for cancelled_id in last.data.get("cancelled_steps", []):
                self._change(session, self._load_step(session, cancelled_id),
                             (StepState.CANCELLED,), StepState.PLANNED, now, "undone",
                             values={"ended_at": None}, data=data)
            duty = counter_duty(session, counter)
            site_id = counter.site_id
        if unqueued is not None:
            self.live.remove(site_id, unqueued)
        self._duty_changed(site_id, counter_id, duty)
        self._ticket_changed(step.ticket)
        self._queue_changed(site_id)
        return self._reload(step.id)
