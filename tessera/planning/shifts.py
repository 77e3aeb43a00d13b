"""Simulated days with desks that come and go by the hour, under the live routing.

The simulator's day (tessera.planning.day) keeps every counter open all day. A staffing
plan opens some desks at some hours, in some languages, so this module wraps the live
routing (ScriptRouting, the engine's own call_next.lua with the TESSERA weights) in a
roster: a desk off duty is taken out of the live state and asks again when its next
hour on duty starts; a desk on duty is put in with that hour's languages. The routing
itself is untouched, which is the point: the plan is checked under the policy that runs.
"""

from dataclasses import dataclass, field

from tessera.planning.day import WaitingStep, run_day
from tessera.planning.routings import ScriptRouting
from tessera.planning.sampling import sample_bookings
from tessera.planning.scenario import CounterSpec, Scenario
from tessera.planning.simulator import DAY_ONE_OPENING, SECONDS_PER_DAY
from tessera.queue.live import Duty, LiveState
from tessera.queue.routing import TESSERA

# A roster: for each opening hour (0 = the first), the desks on duty and the
# languages each is open in. After the last hour the desks of the last hour stay, and
# every other desk joins them, so that everyone still inside is served (as at a centre,
# where the doors close but the hall empties).
Roster = dict[int, dict[str, tuple[str, ...]]]


@dataclass(frozen=True)
class SimulatedStep:
    """One step of a simulated day, as the plan's figures count it."""

    service: str
    hour: int  # the opening hour it joined its queue in
    waited_seconds: float
    within_target: bool
    language: str
    in_language: bool
    coverable: bool  # a desk on duty then, serving the service, spoke the language


class RosterRouting:
    """The live routing, with desks on duty only at their roster's hours."""

    def __init__(self, scenario: Scenario, roster: Roster, live: LiveState, day_opening: float):
        self.scenario = scenario
        self.roster = roster
        self.last_hour = max(roster) if roster else 0
        self.inner = ScriptRouting(scenario, scenario.counters, live, TESSERA, day_opening)
        self.live = live
        self.hour: int | None = None
        self.busy: set[int] = set()
        self.calls: list[tuple[WaitingStep, CounterSpec, float, tuple[str, ...]]] = []
        # ScriptRouting opened every desk; the roster decides from the first call on.
        self._sync(0.0)

    def on_duty(self, hour: int) -> dict[str, tuple[str, ...]]:
        """The desks on duty at `hour` and their languages."""
        if hour <= self.last_hour:
            return self.roster.get(hour, {})
        closing = {counter.name: tuple(counter.languages) for counter in self.scenario.counters}
        return closing | self.roster.get(self.last_hour, {})

    def _duty(self, counter: CounterSpec, languages: tuple[str, ...]) -> Duty:
        return Duty(tuple(self.scenario.services[name].service_id for name in counter.services),
                    languages)

    def _sync(self, now: float) -> None:
        hour = int(now // 3600)
        if hour == self.hour:
            return
        self.hour = hour
        duty = self.on_duty(hour)
        for counter in self.scenario.counters:
            if counter.counter_id in self.busy:
                continue  # a desk finishes its visitor first; release decides then
            languages = duty.get(counter.name)
            self.live.set_duty(self.inner.site_id, counter.counter_id,
                               None if languages is None else self._duty(counter, languages))

    def _next_duty_start(self, counter: CounterSpec, now: float) -> float | None:
        for hour in range(int(now // 3600) + 1, self.last_hour + 2):
            if counter.name in self.on_duty(hour):
                return hour * 3600.0
        return None

    def enqueue(self, step: WaitingStep, now: float) -> None:
        """A step starts waiting."""
        self._sync(now)
        self.inner.enqueue(step, now)

    def call(self, counter: CounterSpec, now: float) -> tuple[WaitingStep | None, float | None]:
        """An idle desk calls next if it is on duty now; otherwise it asks again later."""
        self._sync(now)
        languages = self.on_duty(int(now // 3600)).get(counter.name)
        if languages is None:
            return None, self._next_duty_start(counter, now)
        step, again = self.inner.call(counter, now)
        if step is not None:
            self.busy.add(counter.counter_id)
            self.calls.append((step, counter, now, languages))
        return step, again

    def release(self, counter: CounterSpec) -> None:
        """The desk finished: open again if on duty, else off the floor."""
        self.busy.discard(counter.counter_id)
        # release has no time: the hour last synced is the hour of this completion,
        # since the event loop syncs (enqueue, call) before and after each event.
        self.inner.release(counter)
        languages = self.on_duty(self.hour or 0).get(counter.name)
        self.live.set_duty(self.inner.site_id, counter.counter_id,
                           None if languages is None else self._duty(counter, languages))

    def close(self) -> None:
        """Delete the throwaway site's keys."""
        self.inner.close()


@dataclass
class SimulatedDays:
    """The steps of the simulated days of one roster."""

    steps: list[SimulatedStep] = field(default_factory=list)
    days: int = 0


def simulate_roster(scenario: Scenario, roster: Roster, live: LiveState,
                    days: int = 1) -> SimulatedDays:
    """Play `days` seeded days of the scenario's visitors through the roster.

    The days are the simulator's own (sample_bookings, seed + day), so two rosters of
    one scenario meet the very same visitors: what differs is the plan alone.
    """
    result = SimulatedDays(days=days)
    for day in range(days):
        visits = sample_bookings(scenario, day).visits
        routing = RosterRouting(scenario, roster, live,
                                DAY_ONE_OPENING + day * SECONDS_PER_DAY)
        try:
            run_day(scenario, visits, routing, scenario.counters)
        finally:
            routing.close()
        for step, _counter, now, languages in routing.calls:
            hour = int(step.queued_at // 3600)
            waited = now - step.queued_at
            spec = scenario.services[step.service]
            duty = routing.on_duty(hour)
            speakers = {language for other in scenario.counters if other.name in duty
                        and step.service in other.services for language in duty[other.name]}
            result.steps.append(SimulatedStep(
                service=step.service, hour=hour, waited_seconds=waited,
                within_target=waited <= spec.target_seconds, language=step.visit.language,
                in_language=step.visit.language in languages,
                coverable=step.visit.language in speakers))
    return result


def figures(steps: list[SimulatedStep]) -> dict:
    """Mean and longest wait (minutes), share within target, and the language match.

    The language match is the share of coverable steps served in the visitor's language
    (as the simulator reports it): a language nobody on duty speaks is a staffing
    question, not a routing one, and shows in the plan's language cover instead.
    """
    if not steps:
        return {"steps": 0, "mean_wait_minutes": None, "longest_wait_minutes": None,
                "within_target": None, "language_match": None, "coverable_steps": 0}
    coverable = [step for step in steps if step.coverable]
    return {
        "steps": len(steps),
        "mean_wait_minutes": round(sum(s.waited_seconds for s in steps) / len(steps) / 60, 1),
        "longest_wait_minutes": round(max(s.waited_seconds for s in steps) / 60, 1),
        "within_target": round(sum(s.within_target for s in steps) / len(steps), 3),
        "language_match": (round(sum(s.in_language for s in coverable) / len(coverable), 3)
                           if coverable else None),
        "coverable_steps": len(coverable),
    }

