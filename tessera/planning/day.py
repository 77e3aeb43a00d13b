"""One simulated day under one routing: the discrete-event loop and what it records.

Simplifications, the same for every policy: all counters are open all day,
a called visitor starts at once (no walking time, no no-shows), and counters
keep serving after closing until everyone inside has been served.
"""

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tessera.planning.sampling import MAX_STEPS_PER_VISIT, Visit
from tessera.planning.scenario import CounterSpec, Scenario

if TYPE_CHECKING:
    # Only for the annotation of run_day: the routings module itself needs
    # WaitingStep from here, so a runtime import would be circular.
    from tessera.planning.routings import Routing


@dataclass(frozen=True)
class WaitingStep:
    """A step of a visit in a queue: the visit and which step of its journey."""

    visit: Visit
    index: int  # position in visit.services
    queued_at: float  # seconds after opening: the visit's arrival, or its referral

    @property
    def step_id(self) -> int:
        """A step id unique within the day and the same under every policy."""
        return self.visit.visit_id * MAX_STEPS_PER_VISIT + self.index

    @property
    def service(self) -> str:
        """The service this step asks for."""
        return self.visit.services[self.index]

    @property
    def appointment_due(self) -> float | None:
        """The slot (seconds after opening) of a booked visit's first step, else None.

        Only the first step: a referral onward is not what was booked.
        """
        return self.visit.appointment_due if self.index == 0 else None


@dataclass(frozen=True)
class ServedStep:
    """What the figures need of one step once a counter called it."""

    service: str
    waited_seconds: float
    within_target: bool
    in_language: bool
    coverable: bool  # some counter serving this service speaks the visitor's language
    walk_in: bool = True  # a step of a visit without an appointment
    # For a booked visit's first step: from the later of its slot and the
    # visitor's arrival to the call (negative when called before the slot).
    late_after_slot_seconds: float | None = None


# What an observer of a day is told: the simulated time (seconds after
# opening) and the step concerned.
StepHook = Callable[[float, WaitingStep], None]


def run_day(scenario: Scenario, visits: list[Visit], routing: "Routing",
            counters: Iterable[CounterSpec], *, on_queued: StepHook | None = None,
            on_called: StepHook | None = None) -> list[ServedStep]:
    """Play one day of `visits` through `routing`; returns every step once called.

    Events are arrivals, completions and re-polls; after each, every idle
    counter calls next, in the scenario's counter order, so a run is
    deterministic. A called step starts at once and takes its drawn time.

    The hooks let a benchmark watch the day (bench/estimates.py compares wait
    estimates with the real waits): `on_queued` runs as a step joins its
    queue (at arrival or referral), after the routing has it and before any
    counter calls, which is when the live system gives its estimate;
    `on_called` runs as a counter calls a step. They must only read the
    routing's state, so a watched day is the same as an unwatched one.
    """
    counters = tuple(counters)
    speakers = {service: set() for service in scenario.services}
    for counter in counters:
        for service in counter.services:
            speakers[service].update(counter.languages)
    # (time, sequence, kind, payload): the sequence keeps equal times in order.
    events: list[tuple[float, int, str, object]] = []
    sequence = 0

    def schedule(moment: float, kind: str, payload: object) -> None:
        nonlocal sequence
        sequence += 1
        heapq.heappush(events, (moment, sequence, kind, payload))

    for visit in visits:
        schedule(visit.arrived_at, "arrival", visit)
    serving: dict[int, WaitingStep | None] = {counter.counter_id: None for counter in counters}
    repoll_at: dict[int, float] = {}
    served: list[ServedStep] = []
    expected = sum(len(visit.services) for visit in visits)

    while events:
        now, _, kind, payload = heapq.heappop(events)
        if kind == "arrival":
            joining = WaitingStep(payload, 0, now)
            routing.enqueue(joining, now)
            if on_queued is not None:
                on_queued(now, joining)
        elif kind == "completion":
            counter = payload
            finished = serving[counter.counter_id]
            serving[counter.counter_id] = None
            routing.release(counter)
            if finished.index + 1 < len(finished.visit.services):
                referred = WaitingStep(finished.visit, finished.index + 1, now)
                routing.enqueue(referred, now)
                if on_queued is not None:
                    on_queued(now, referred)
        elif repoll_at.get(payload.counter_id) == now:
            del repoll_at[payload.counter_id]
        else:
            continue  # a re-poll superseded by an earlier one: nothing happens

        for counter in counters:
            if serving[counter.counter_id] is not None:
                continue
            step, ask_again_at = routing.call(counter, now)
            if step is not None:
                serving[counter.counter_id] = step
                repoll_at.pop(counter.counter_id, None)
                if on_called is not None:
                    on_called(now, step)
                spec = scenario.services[step.service]
                waited = now - step.queued_at
                due = step.appointment_due
                served.append(ServedStep(
                    service=step.service, waited_seconds=waited,
                    within_target=waited <= spec.target_seconds,
                    in_language=step.visit.language in counter.languages,
                    coverable=step.visit.language in speakers[step.service],
                    walk_in=step.visit.appointment_due is None,
                    late_after_slot_seconds=(None if due is None
                                             else now - max(due, step.visit.arrived_at)),
                ))
                schedule(now + step.visit.handling_seconds[step.index], "completion", counter)
            elif ask_again_at is not None:
                pending = repoll_at.get(counter.counter_id)
                if pending is None or pending <= now or ask_again_at < pending:
                    repoll_at[counter.counter_id] = ask_again_at
                    schedule(ask_again_at, "repoll", counter)

    if len(served) != expected:
        raise RuntimeError(f"The day ended with {expected - len(served)} step(s) never called.")
    return served
