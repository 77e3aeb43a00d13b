"""A desk's duty: opening, pausing, resuming and closing a counter, and noticing an empty one.

A member of staff holds at most one open desk: opening another closes the first.
A desk's workstation page reports that it is still there (tessera/web/realtime.py
records it with `counter_seen`); `pause_absent_desks`, run by a periodic job,
pauses a desk whose page has gone, so that the routing holds nobody for an empty
desk and the estimates do not count it.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.clock import epoch
from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.events import record_event
from tessera.languages import current_language
from tessera.models import Counter, CounterStatus, Staff, Step, StepState
from tessera.queue.base import EngineBase, counter_duty, queued_step
from tessera.queue.live import Duty
from tessera.sites.catalogue import translated


def default_languages(counter: Counter, staff: Staff | None) -> list[str]:
    """The languages a desk serves in unless its member of staff says otherwise.

    Those the member of staff speaks (and the site offers): the desk's usual
    languages describe its usual staff, not who sits there today. The desk's
    usual languages only when nobody is named or they have none recorded.
    """
    spoken = [code for code in (staff.languages if staff else []) if code in counter.site.languages]
    return spoken or list(counter.languages)


@dataclass(frozen=True)
class LeftDesk:
    """A desk that stopped calling in a transaction: what to tell Redis and pages after it."""

    site_id: str
    counter_id: int
    duty: Duty | None
    returned: Step | None  # the ticket called there, back in its place


class Counters(EngineBase):
    """The engine's part that puts counters on and off duty."""

    def open_counter(self, counter_id: int, staff_id: int | None = None,
                     service_ids: Sequence[int] | None = None,
                     languages: Sequence[str] | None = None) -> Counter:
        """Put a counter on duty for some of its services, in some languages.

        Defaults: every service the counter offers, and `default_languages`.
        A member of staff holds one desk: any other desk they hold closes in the
        same transaction, a ticket called there going back to its place; a visitor
        being served there refuses the opening (409 `serving_elsewhere`).
        """
        with self.database.session() as session:
            staff, counter, others = self._lock_for_opening(session, counter_id, staff_id)
            offered = {service.id for service in counter.services if service.active}
            chosen = list(offered) if service_ids is None else list(service_ids)
            if not chosen or not set(chosen) <= offered:
                raise InvalidInput(_("Choose one or more of the services this counter offers."),
                                   "invalid_services")
            if languages is None:
                languages = default_languages(counter, staff)
            unknown = set(languages) - set(counter.site.languages)
            if unknown:
                raise InvalidInput(_("Language(s) not offered at this site: %(languages)s.",
                                     languages=", ".join(sorted(unknown))), "unknown_language")
            now = self.clock()
            left = [self._stop_calling(session, other, CounterStatus.CLOSED, "counter_closed",
                                       reason="moved", to_counter_id=counter.id)
                    for other in others]
            counter.status = CounterStatus.OPEN
            counter.staff_id = staff_id
            counter.duty_service_ids = sorted(chosen)
            counter.duty_languages = list(languages)
            record_event(session, counter.site_id, "counter_opened", now,
                         counter_id=counter.id, staff_id=staff_id, services=sorted(chosen),
                         languages=list(languages))
            duty = counter_duty(session, counter)
        for desk in left:
            self._after_stopping(desk)
        # Just opened, so just seen: an old record must not pause it at once.
        self.live.mark_present(counter.site_id, counter.id, epoch(now))
        self._duty_changed(counter.site_id, counter.id, duty)
        return counter

    def pause_counter(self, counter_id: int) -> Counter:
        """Stop calling at a counter for a while; a called ticket goes back to its place."""
        return self._set_status(counter_id, CounterStatus.PAUSED, "counter_paused")

    def resume_counter(self, counter_id: int) -> Counter:
        """Call again at a paused counter."""
        counter = self._set_status(counter_id, CounterStatus.OPEN, "counter_resumed")
        self.live.mark_present(counter.site_id, counter.id, epoch(self.clock()))
        return counter

    def close_counter(self, counter_id: int) -> Counter:
        """Take a counter off duty; a called ticket goes back to its place."""
        return self._set_status(counter_id, CounterStatus.CLOSED, "counter_closed")

    def close_desk_in(self, session: Session, counter: Counter, **data) -> LeftDesk | None:
        """Close a desk whose row the caller locked, in the caller's transaction (retiring
        it): a called ticket goes back to its place; `after_desk_closed` must follow the
        commit. None when it was closed already. Refuses while a visitor is served there."""
        if counter.status == CounterStatus.CLOSED:
            return None
        return self._stop_calling(session, counter, CounterStatus.CLOSED, "counter_closed",
                                  **data)

    def after_desk_closed(self, desk: LeftDesk) -> None:
        """After the commit of `close_desk_in`: the live state and the pages hear of it."""
        self._after_stopping(desk)

    def refresh_duty(self, counter_id: int) -> None:
        """Make Redis hold a desk's duty as SQL has it now (its services were edited)."""
        with self.database.session() as session:
            counter = session.get(Counter, counter_id)
            duty = counter_duty(session, counter) if counter.active else None
            site_id = counter.site_id
        self._duty_changed(site_id, counter_id, duty)

    def counter_seen(self, counter_id: int) -> None:
        """The desk's workstation page is there now (it connected, or sent a heartbeat)."""
        with self.database.session() as session:
            site_id = self._counter(session, counter_id).site_id
        self.live.mark_present(site_id, counter_id, epoch(self.clock()))

    def pause_absent_desks(self, absent_seconds: float) -> list[int]:
        """Pause every open desk whose workstation page was last seen `absent_seconds` ago.

        A called ticket there goes back to its place; the `counter_paused` event
        says `reason: absent`. A desk serving a visitor stays as it is. A desk
        with no presence record at all (Redis was flushed) counts as seen now,
        so a flush never pauses anyone. Returns the ids of the desks paused.
        """
        now = self.clock()
        with self.database.session() as session:
            open_desks = defaultdict(list)
            for site_id, desk_id in session.execute(
                    select(Counter.site_id, Counter.id).where(
                        Counter.active, Counter.status == CounterStatus.OPEN)):
                open_desks[site_id].append(desk_id)
        paused = []
        for site_id, desk_ids in open_desks.items():
            seen = self.live.last_seen(site_id)
            for desk_id in desk_ids:
                if desk_id not in seen:
                    self.live.mark_present(site_id, desk_id, epoch(now))
                elif (epoch(now) - seen[desk_id] >= absent_seconds
                      and self._pause_absent(desk_id, seen[desk_id])):
                    paused.append(desk_id)
        return paused

    # Internals --------------------------------------------------------------

    def _pause_absent(self, counter_id: int, last_seen: float) -> bool:
        """Pause one desk whose page has gone, unless it changed meanwhile or serves."""
        try:
            with self.database.session() as session:
                counter = self._counter(session, counter_id, lock=True)
                if counter.status != CounterStatus.OPEN:
                    return False  # paused or closed meanwhile
                left = self._stop_calling(
                    session, counter, CounterStatus.PAUSED, "counter_paused", reason="absent",
                    absent_seconds=round(epoch(self.clock()) - last_seen))
        except Conflict:  # a visitor is being served there: the desk stays as it is
            return False
        self._after_stopping(left)
        return True

    def _lock_for_opening(self, session: Session, counter_id: int, staff_id: int | None
                          ) -> tuple[Staff | None, Counter, list[Counter]]:
        """Lock what opening a desk changes: the member of staff, the desk, their other desks.

        The staff row first, so two openings by one person queue up and cannot
        both miss the other; then the desks in id order, so two people swapping
        desks cannot deadlock. Returns the other desks they still hold, checked
        for a visitor being served there.
        """
        staff = None
        held: list[int] = []
        if staff_id is not None:
            staff = session.get(Staff, staff_id, with_for_update=True)
            if staff is None:
                raise NotFound(_("There is no member of staff %(staff)s.", staff=staff_id))
            held = list(session.scalars(select(Counter.id).where(
                Counter.staff_id == staff_id, Counter.status != CounterStatus.CLOSED,
                Counter.id != counter_id)))
        locked = {desk_id: session.get(Counter, desk_id, with_for_update=True)
                  for desk_id in sorted({counter_id, *held})}
        counter = self._counter(session, counter_id)  # the row locked above
        others = [desk for desk_id, desk in locked.items() if desk_id != counter_id
                  and desk.staff_id == staff_id and desk.status != CounterStatus.CLOSED]
        for other in others:
            active = self._active_step(session, other.id)
            if active is not None and active.state == StepState.SERVING:
                desk = translated(other.name, current_language(), other.site)
                raise Conflict(_("You are serving ticket %(number)s at %(desk)s: finish or "
                                 "refer it there before opening another desk.",
                                 number=active.ticket.number, desk=desk),
                               "serving_elsewhere", counter=other.id, ticket=active.ticket.number)
        return staff, counter, others

    def _set_status(self, counter_id: int, status: CounterStatus, kind: str) -> Counter:
        with self.database.session() as session:
            counter = self._counter(session, counter_id, lock=True)
            if counter.status == CounterStatus.CLOSED and status != CounterStatus.CLOSED:
                raise Conflict(_("This counter is closed; open it first."), "counter_closed")
            left = self._stop_calling(session, counter, status, kind)
        self._after_stopping(left)
        return counter

    def _stop_calling(self, session: Session, counter: Counter, status: CounterStatus,
                      kind: str, **data) -> LeftDesk:
        """Give a locked desk a new status, with its event; a called ticket goes back.

        Refuses while a visitor is being served there. `data` goes into the event.
        """
        active = self._active_step(session, counter.id)
        if active is not None and active.state == StepState.SERVING:
            raise Conflict(_("Finish or refer ticket %(number)s first.",
                             number=active.ticket.number), "counter_busy")
        now = self.clock()
        returned = None
        if active is not None:  # called but not yet at the desk: give back its place
            self._change(session, active, (StepState.CALLED,), StepState.WAITING, now,
                         "returned", values={"counter_id": None, "staff_id": None})
            returned = active
        record_event(session, counter.site_id, kind, now, counter_id=counter.id,
                     staff_id=counter.staff_id, **data)
        counter.status = status
        if status == CounterStatus.CLOSED:
            counter.staff_id = None  # a closed desk names nobody
            self._release_reserved(session, counter.id, now)
        return LeftDesk(counter.site_id, counter.id, counter_duty(session, counter), returned)

    def _after_stopping(self, desk: LeftDesk) -> None:
        """After commit: the returned ticket back in its queue, the desk's duty in Redis."""
        if desk.returned is not None:
            self.live.enqueue(desk.site_id, queued_step(desk.returned))
            self._ticket_changed(desk.returned.ticket)
            self._queue_changed(desk.site_id)
        if desk.duty is None:  # closed: steps transferred to it wait for anyone again
            self._requeue_released(desk.site_id, desk.counter_id)
        self._duty_changed(desk.site_id, desk.counter_id, desk.duty)
