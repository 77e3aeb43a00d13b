"""How a simulated day's steps find counters: the routings the event loop calls.

The skills-based routings run the live engine's own routing script
(tessera/queue/call_next.lua) through LiveState, with a simulated clock,
under a throwaway site id whose keys are deleted afterwards. Only the
per-counter FIFO baseline, which Tessera does not offer, is plain Python.
"""

import math
import uuid
from collections import deque
from typing import Protocol

from tessera.planning.day import WaitingStep
from tessera.planning.scenario import CounterSpec, Scenario
from tessera.queue.live import Duty, LiveState, QueuedStep, ServiceQueue
from tessera.queue.routing import RoutingPolicy

# A counter whose only candidates are held re-polls within this window: never
# later than a minute, and never so soon that an overrunning colleague (whose
# expected free time has already passed) makes it spin.
MIN_REPOLL_SECONDS = 10.0
MAX_REPOLL_SECONDS = 60.0


class Routing(Protocol):
    """How a day's steps find counters: the FIFO baseline or the routing script."""

    def enqueue(self, step: WaitingStep, now: float) -> None:
        """A step starts waiting for its service."""

    def call(self, counter: CounterSpec, now: float) -> tuple[WaitingStep | None, float | None]:
        """An idle counter calls next: the step it takes, else when to ask again (or None)."""

    def release(self, counter: CounterSpec) -> None:
        """A counter finished its step and is open again."""

    def close(self) -> None:
        """The day is over: clean up."""


class FifoPerDesk:
    """Dedicated FIFO queues: a visitor joins the shortest line among desks offering the service.

    A line's length is the people a visitor joining it sees ahead: those
    waiting, plus the one being served. (Counting only those waiting would
    send a visitor to a busy desk's empty line while the next desk stands idle.)
    """

    def __init__(self, counters: tuple[CounterSpec, ...]):
        self.counters = counters
        self.queues = {counter.counter_id: deque() for counter in counters}
        self.serving: set[int] = set()

    def _ahead(self, counter: CounterSpec) -> int:
        return len(self.queues[counter.counter_id]) + (counter.counter_id in self.serving)

    def enqueue(self, step: WaitingStep, now: float) -> None:
        """Join the desk with the fewest people ahead among those serving the step's service."""
        offering = [counter for counter in self.counters if step.service in counter.services]
        # min() keeps the first of equals, so ties go by desk order.
        self.queues[min(offering, key=self._ahead).counter_id].append(step)

    def call(self, counter: CounterSpec, now: float) -> tuple[WaitingStep | None, float | None]:
        """The head of this desk's own line; never a reason to re-poll."""
        queue = self.queues[counter.counter_id]
        if not queue:
            return None, None
        self.serving.add(counter.counter_id)
        return queue.popleft(), None

    def release(self, counter: CounterSpec) -> None:
        """The desk finished its visitor."""
        self.serving.discard(counter.counter_id)

    def close(self) -> None:
        """Nothing to clean up."""


class ScriptRouting:
    """Skills-based routing by the live engine's script, in a throwaway site."""

    def __init__(self, scenario: Scenario, counters: tuple[CounterSpec, ...], live: LiveState,
                 policy: RoutingPolicy, day_opening: float):
        self.scenario = scenario
        self.counters = counters
        self.live = live
        self.policy = policy
        self.day_opening = day_opening
        self.site_id = f"sim-{uuid.uuid4().hex}"
        self.waiting: dict[int, WaitingStep] = {}
        self.waiting_per_service = dict.fromkeys(scenario.services, 0)
        self.service_queues = {
            name: ServiceQueue(spec.service_id, spec.target_seconds, spec.mean_handling_seconds)
            for name, spec in scenario.services.items()
        }
        for counter in counters:
            self.release(counter)

    def _duty(self, counter: CounterSpec) -> Duty:
        return Duty(tuple(self.scenario.services[name].service_id for name in counter.services),
                    counter.languages)

    def enqueue(self, step: WaitingStep, now: float) -> None:
        """Queue the step at its visit's arrival time, as the live engine does.

        A booked visit's first step carries its slot, as a checked-in
        appointment's ticket does, so the script's appointment boost applies.
        """
        service = self.scenario.services[step.service]
        due = step.appointment_due
        self.live.enqueue(self.site_id, QueuedStep(
            step_id=step.step_id, service_id=service.service_id,
            arrived_at=self.day_opening + step.visit.arrived_at,
            language=step.visit.language, priority=step.visit.priority,
            appointment_due=0.0 if due is None else self.day_opening + due,
        ))
        self.waiting[step.step_id] = step
        self.waiting_per_service[step.service] += 1

    def call(self, counter: CounterSpec, now: float) -> tuple[WaitingStep | None, float | None]:
        """Call next for the counter: the step it claimed, or when to ask again."""
        if not any(self.waiting_per_service[name] for name in counter.services):
            # The script would answer 'empty' with nothing held: skip the round trip.
            return None, None
        result = self.live.call_next(
            self.site_id, counter.counter_id,
            [self.service_queues[name] for name in counter.services],
            self.policy, self.day_opening + now,
        )
        if result.status == "called":
            step = self.waiting.pop(result.step_id)
            self.waiting_per_service[step.service] -= 1
            return step, None
        if result.status == "empty" and result.held:
            retry_after = result.retry_after if result.retry_after is not None else math.inf
            return None, now + min(max(retry_after, MIN_REPOLL_SECONDS), MAX_REPOLL_SECONDS)
        if result.status != "empty":
            # Only a flush of Redis under the simulation, or a second writer, gets here.
            raise RuntimeError(f"call-next answered {result.status!r} for idle counter "
                               f"{counter.name} of {self.site_id}: was Redis flushed?")
        return None, None

    def release(self, counter: CounterSpec) -> None:
        """The counter finished its step: open again, as the live engine records it."""
        self.live.set_duty(self.site_id, counter.counter_id, self._duty(counter))

    def close(self) -> None:
        """Delete the throwaway site's keys."""
        self.live.flush_site(self.site_id)


def pooled_counters(scenario: Scenario) -> tuple[CounterSpec, ...]:
    """Every counter serving every service, with its own languages."""
    every_service = tuple(scenario.services)
    return tuple(CounterSpec(counter.name, counter.counter_id, every_service, counter.languages)
                 for counter in scenario.counters)
