"""A desk's duty: opening, pausing, resuming and closing a counter."""

from collections.abc import Sequence

from flask_babel import gettext as _

from tessera.errors import Conflict, InvalidInput, NotFound
from tessera.events import record_event
from tessera.models import Counter, CounterStatus, Staff, StepState
from tessera.queue.base import EngineBase, counter_duty, queued_step


class Counters(EngineBase):
    """The engine's part that puts counters on and off duty."""

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
            record_event(session, counter.site_id, kind, now, counter_id=counter.id,
                         staff_id=counter.staff_id)
            counter.status = status
            if status == CounterStatus.CLOSED:
                counter.staff_id = None  # a closed desk names nobody
            duty = counter_duty(session, counter)
        if requeued is not None:
            self.live.enqueue(counter.site_id, requeued)
            self._ticket_changed(active.ticket)
            self._queue_changed(counter.site_id)
        self._duty_changed(counter.site_id, counter.id, duty)
        return counter
