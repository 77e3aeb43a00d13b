"""A discrete-event simulator of a day at a site, to compare routing policies.

A scenario file (see ../shared/scenarios/oss-reference.yaml for the form)
describes the services, the counters and who speaks what at each, and the
visitors of a typical day: how many come each hour, in which language, with
which needs, asking for which service, and where they are referred next.

Every policy is run on the same sampled visitors: day d draws from the
scenario's seed + d, and everything random about a visit (arrival, language,
needs, each step's handling time, each referral) is drawn before any policy
runs, so differences in the figures come from routing alone.

The skills-based policies run the live engine's own routing script
(tessera/lua/call_next.lua) through LiveState, with a simulated clock, under
a throwaway site id whose keys are deleted afterwards. Only the per-counter
FIFO baseline, which Tessera does not offer, is plain Python.

Simplifications, the same for every policy: all counters are open all day,
a called visitor starts at once (no walking time, no no-shows), and counters
keep serving after closing until everyone inside has been served.
"""

import heapq
import math
import random
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from tessera.queue.live import Duty, LiveState, QueuedStep, ServiceQueue
from tessera.queue.routing import LONGEST_WAIT_FIRST, TESSERA, RoutingPolicy

POLICIES = ("fifo_per_desk", "longest_wait_first", "tessera", "pooled")
# The simulated clock, as epoch seconds for the routing script: any origin
# works, since the script only ever compares and subtracts times.
DAY_ONE_OPENING = 1_795_000_000.0
SECONDS_PER_DAY = 86_400.0
# A referral chain could loop (A -> B -> A ...); a visit stops after this many steps.
MAX_STEPS_PER_VISIT = 8
# A counter whose only candidates are held re-polls within this window: never
# later than a minute, and never so soon that an overrunning colleague (whose
# expected free time has already passed) makes it spin.
MIN_REPOLL_SECONDS = 10.0
MAX_REPOLL_SECONDS = 60.0
# Shares read from a file may be rounded; beyond this they are a mistake.
SHARE_TOLERANCE = 0.01
KNOWN_NEEDS = ("priority", "interpreter")


# Scenario --------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the scenario, with its times in seconds."""

    name: str
    service_id: int
    organisation: str | None
    prefix: str | None
    mean_handling_seconds: float
    target_seconds: float
    share: float


@dataclass(frozen=True)
class CounterSpec:
    """One counter (desk): the services it serves and the languages its staff speak."""

    name: str
    counter_id: int
    services: tuple[str, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file."""

    name: str
    seed: int
    open_hours: int
    arrivals_stop_before_close_minutes: float
    handling_cv: float
    site_language: str
    languages: dict[str, float]
    needs: dict[str, float]
    services: dict[str, ServiceSpec]
    referrals: dict[str, dict[str, float]]
    counters: tuple[CounterSpec, ...]
    arrivals_per_hour: tuple[float, ...]


def _fail(path: str, message: str) -> ValueError:
    return ValueError(f"Scenario {path}: {message}")


def _number(path: str, where: str, value, *, positive=False, minimum=None, maximum=None):
    # YAML reads `yes` as True, and bool is an int in Python: refuse it explicitly.
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise _fail(path, f"{where} must be a number, not {value!r}.")
    if positive and value <= 0:
        raise _fail(path, f"{where} must be greater than 0, not {value!r}.")
    if minimum is not None and value < minimum:
        raise _fail(path, f"{where} must be at least {minimum}, not {value!r}.")
    if maximum is not None and value > maximum:
        raise _fail(path, f"{where} must be at most {maximum}, not {value!r}.")
    return float(value)


def _mapping(path: str, where: str, value) -> dict:
    if not isinstance(value, dict) or not value:
        raise _fail(path, f"{where} must be a non-empty mapping.")
    return value


def _shares(path: str, where: str, value) -> dict[str, float]:
    mapping = _mapping(path, where, value)
    for key in mapping:
        # YAML reads a bare `no` (Norwegian) as False.
        if not isinstance(key, str):
            raise _fail(path, f"{where}: {key!r} is not a name; put it in quotes.")
    shares = {key: _number(path, f"{where}.{key}", share, minimum=0, maximum=1)
              for key, share in mapping.items()}
    total = sum(shares.values())
    if abs(total - 1) > SHARE_TOLERANCE:
        raise _fail(path, f"the shares in {where} must add up to 1, not {total:.3f}.")
    return shares


def load_scenario(scenario_path: str | Path) -> Scenario:
    """Read and check a scenario file; raises ValueError saying what is wrong."""
    path = str(scenario_path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise _fail(path, f"cannot be read ({error.strerror}).") from error
    except yaml.YAMLError as error:
        raise _fail(path, f"is not valid YAML ({error}).") from error
    if not isinstance(raw, dict):
        raise _fail(path, "must be a YAML mapping of settings.")
    required = ("name", "seed", "open_hours", "handling_cv", "site_language", "languages",
                "services", "counters", "arrivals_per_hour")
    missing = [key for key in required if key not in raw]
    if missing:
        raise _fail(path, f"missing setting(s): {', '.join(missing)}.")

    if isinstance(raw["seed"], bool) or not isinstance(raw["seed"], int):
        raise _fail(path, f"seed must be a whole number, not {raw['seed']!r}.")
    open_hours = raw["open_hours"]
    if isinstance(open_hours, bool) or not isinstance(open_hours, int) or open_hours < 1:
        raise _fail(path, f"open_hours must be a whole number of at least 1, not {open_hours!r}.")
    stop_before_close = _number(path, "arrivals_stop_before_close",
                                raw.get("arrivals_stop_before_close", 0), minimum=0,
                                maximum=open_hours * 60)
    handling_cv = _number(path, "handling_cv", raw["handling_cv"], minimum=0)
    site_language = raw["site_language"]
    if not isinstance(site_language, str) or not site_language:
        raise _fail(path, "site_language must be a language code such as 'el'.")
    languages = _shares(path, "languages", raw["languages"])

    needs = raw.get("needs") or {}
    if not isinstance(needs, dict):
        raise _fail(path, "needs must be a mapping of need -> share of visitors.")
    unknown_needs = set(needs) - set(KNOWN_NEEDS)
    if unknown_needs:
        raise _fail(path, f"unknown need(s) {', '.join(sorted(map(str, unknown_needs)))}; "
                          f"known needs: {', '.join(KNOWN_NEEDS)}.")
    needs = {need: _number(path, f"needs.{need}", share, minimum=0, maximum=1)
             for need, share in needs.items()}

    organisations = raw.get("organisations")
    if organisations is not None and not isinstance(organisations, list):
        raise _fail(path, "organisations must be a list.")

    services: dict[str, ServiceSpec] = {}
    for index, (name, fields) in enumerate(_mapping(path, "services", raw["services"]).items()):
        where = f"services.{name}"
        if not isinstance(fields, dict):
            raise _fail(path, f"{where} must be a mapping with mean, target and share.")
        for key in ("mean", "target", "share"):
            if key not in fields:
                raise _fail(path, f"{where} is missing '{key}'.")
        organisation = fields.get("org")
        if organisations is not None and organisation not in organisations:
            raise _fail(path, f"{where}.org {organisation!r} is not one of the organisations.")
        services[str(name)] = ServiceSpec(
            name=str(name), service_id=index + 1, organisation=organisation,
            prefix=fields.get("prefix"),
            mean_handling_seconds=60 * _number(path, f"{where}.mean", fields["mean"],
                                               positive=True),
            target_seconds=60 * _number(path, f"{where}.target", fields["target"],
                                        positive=True),
            share=_number(path, f"{where}.share", fields["share"], minimum=0, maximum=1),
        )
    share_total = sum(service.share for service in services.values())
    if abs(share_total - 1) > SHARE_TOLERANCE:
        raise _fail(path, f"the services' shares must add up to 1, not {share_total:.3f}.")

    referrals: dict[str, dict[str, float]] = {}
    raw_referrals = raw.get("referrals") or {}
    if not isinstance(raw_referrals, dict):
        raise _fail(path, "referrals must be a mapping of service -> {next service: probability}.")
    for source, targets in raw_referrals.items():
        if source not in services:
            raise _fail(path, f"referrals.{source}: no such service.")
        chances = {}
        for target, probability in _mapping(path, f"referrals.{source}", targets).items():
            if target not in services:
                raise _fail(path, f"referrals.{source}.{target}: no such service.")
            chances[target] = _number(path, f"referrals.{source}.{target}", probability,
                                      minimum=0, maximum=1)
        if sum(chances.values()) > 1 + 1e-9:
            raise _fail(path, f"the probabilities in referrals.{source} add up to more than 1.")
        referrals[str(source)] = chances

    counters = []
    for index, (name, fields) in enumerate(_mapping(path, "counters", raw["counters"]).items()):
        where = f"counters.{name}"
        if not isinstance(fields, dict):
            raise _fail(path, f"{where} must be a mapping with services and languages.")
        served = fields.get("services")
        if not isinstance(served, list) or not served:
            raise _fail(path, f"{where}.services must be a non-empty list of services.")
        unknown = [service for service in served if service not in services]
        if unknown:
            raise _fail(path, f"{where}.services: no such service(s) "
                              f"{', '.join(map(str, unknown))}.")
        spoken = fields.get("languages")
        if not isinstance(spoken, list) or not all(isinstance(code, str) for code in spoken):
            raise _fail(path, f"{where}.languages must be a list of language codes.")
        # The site language is spoken at every counter, said in the file or not.
        spoken = list(dict.fromkeys([site_language, *spoken]))
        counters.append(CounterSpec(str(name), index + 1, tuple(served), tuple(spoken)))

    hourly = raw["arrivals_per_hour"]
    if not isinstance(hourly, list) or len(hourly) != open_hours:
        raise _fail(path, f"arrivals_per_hour must list one rate for each of the "
                          f"{open_hours} opening hours.")
    hourly = tuple(_number(path, f"arrivals_per_hour[{hour}]", rate, minimum=0)
                   for hour, rate in enumerate(hourly))

    # A service that can be asked for but that no counter serves would keep
    # its visitors waiting forever: a mistake in the file, not a finding.
    served_somewhere = {service for counter in counters for service in counter.services}
    requested = {name for name, service in services.items() if service.share > 0}
    requested |= {target for chances in referrals.values()
                  for target, probability in chances.items() if probability > 0}
    unserved = sorted(requested - served_somewhere)
    if unserved:
        raise _fail(path, f"no counter serves {', '.join(unserved)}.")

    return Scenario(
        name=str(raw["name"]), seed=raw["seed"], open_hours=open_hours,
        arrivals_stop_before_close_minutes=stop_before_close, handling_cv=handling_cv,
        site_language=site_language, languages=languages, needs=needs, services=services,
        referrals=referrals, counters=tuple(counters), arrivals_per_hour=hourly,
    )


# Visitors of one day ----------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """One visitor's day, drawn before any policy runs.

    `services` is the whole journey (first service, then each referral) and
    `handling_seconds` the time each of those steps takes at whichever desk.
    """

    visit_id: int
    arrived_at: float  # seconds after opening
    language: str
    priority: bool
    # Drawn as the kiosk records it, though routing does not use it: the step's
    # queue member carries no interpreter flag.
    interpreter: bool
    services: tuple[str, ...]
    handling_seconds: tuple[float, ...]


def _lognormal_seconds(draw: random.Random, mean: float, cv: float) -> float:
    # A lognormal with this mean and coefficient of variation.
    sigma_squared = math.log(1 + cv * cv)
    return draw.lognormvariate(math.log(mean) - sigma_squared / 2, math.sqrt(sigma_squared))


def _arrival_times(scenario: Scenario, draw: random.Random) -> list[float]:
    # Piecewise-constant rates: a Poisson process restarted at each hour is
    # exact, since exponential gaps have no memory.
    stop = (scenario.open_hours * 60 - scenario.arrivals_stop_before_close_minutes) * 60
    times = []
    for hour, per_hour in enumerate(scenario.arrivals_per_hour):
        start, end = hour * 3600.0, min((hour + 1) * 3600.0, stop)
        if per_hour <= 0 or start >= end:
            continue
        moment = start + draw.expovariate(per_hour / 3600)
        while moment < end:
            times.append(moment)
            moment += draw.expovariate(per_hour / 3600)
    return times


def sample_day(scenario: Scenario, day: int) -> list[Visit]:
    """The visitors of day `day` (0-based), seeded with the scenario's seed + day."""
    draw = random.Random(scenario.seed + day)
    languages, language_shares = zip(*scenario.languages.items(), strict=True)
    names = list(scenario.services)
    first_shares = [scenario.services[name].share for name in names]
    visits = []
    for visit_id, arrived_at in enumerate(_arrival_times(scenario, draw), start=1):
        language = draw.choices(languages, language_shares)[0]
        priority = draw.random() < scenario.needs.get("priority", 0)
        interpreter = draw.random() < scenario.needs.get("interpreter", 0)
        journey = [draw.choices(names, first_shares)[0]]
        handling = []
        while True:
            service = scenario.services[journey[-1]]
            handling.append(_lognormal_seconds(draw, service.mean_handling_seconds,
                                               scenario.handling_cv))
            referral = draw.random()
            next_service = None
            for candidate, probability in scenario.referrals.get(service.name, {}).items():
                if referral < probability:
                    next_service = candidate
                    break
                referral -= probability
            if next_service is None or len(journey) == MAX_STEPS_PER_VISIT:
                break
            journey.append(next_service)
        visits.append(Visit(visit_id, arrived_at, language, priority, interpreter,
                            tuple(journey), tuple(handling)))
    return visits


# One day under one policy -----------------------------------------------------


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


@dataclass(frozen=True)
class ServedStep:
    """What the figures need of one step once a counter called it."""

    service: str
    waited_seconds: float
    within_target: bool
    in_language: bool
    coverable: bool  # some counter serving this service speaks the visitor's language


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
        """Queue the step at its visit's arrival time, as the live engine does."""
        service = self.scenario.services[step.service]
        self.live.enqueue(self.site_id, QueuedStep(
            step_id=step.step_id, service_id=service.service_id,
            arrived_at=self.day_opening + step.visit.arrived_at,
            language=step.visit.language, priority=step.visit.priority,
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


# What an observer of a day is told: the simulated time (seconds after
# opening) and the step concerned.
StepHook = Callable[[float, WaitingStep], None]


def run_day(scenario: Scenario, visits: list[Visit], routing: Routing,
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
                served.append(ServedStep(
                    service=step.service, waited_seconds=waited,
                    within_target=waited <= spec.target_seconds,
                    in_language=step.visit.language in counter.languages,
                    coverable=step.visit.language in speakers[step.service],
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


# Figures ------------------------------------------------------------------------


def _percentile(sorted_values: list[float], fraction: float) -> float:
    # Nearest rank: a wait some step actually had.
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _share(count: int, total: int) -> float:
    return count / total if total else 0.0


def day_figures(served: list[ServedStep]) -> dict:
    """One day's figures under one policy; waits in minutes, shares from 0 to 1."""
    waits = sorted(step.waited_seconds / 60 for step in served)
    coverable = [step for step in served if step.coverable]
    return {
        "steps": len(served),
        "mean_wait": sum(waits) / len(waits) if waits else 0.0,
        "p90_wait": _percentile(waits, 0.9),
        "longest_wait": waits[-1] if waits else 0.0,
        "within_target": _share(sum(step.within_target for step in served), len(served)),
        "in_language": _share(sum(step.in_language for step in served), len(served)),
        "in_language_coverable": _share(sum(step.in_language for step in coverable),
                                        len(coverable)),
        "coverable_steps": len(coverable),
    }


AVERAGED = ("mean_wait", "p90_wait", "longest_wait", "within_target", "in_language",
            "in_language_coverable")


def average_days(per_day: list[dict]) -> dict:
    """The mean over days of each daily figure; step counts are totals."""
    figures = {name: round(sum(day[name] for day in per_day) / len(per_day), 4)
               for name in AVERAGED}
    figures["longest_wait_any_day"] = round(max(day["longest_wait"] for day in per_day), 4)
    figures["steps"] = sum(day["steps"] for day in per_day)
    figures["coverable_steps"] = sum(day["coverable_steps"] for day in per_day)
    figures["per_day"] = [{name: round(value, 4) if isinstance(value, float) else value
                           for name, value in day.items()} for day in per_day]
    return figures


def run_policy(scenario: Scenario, visits: list[Visit], live: LiveState, policy_name: str,
               day: int, tessera_policy: RoutingPolicy = TESSERA) -> list[ServedStep]:
    """One day under one of POLICIES; `tessera_policy` lets tuning try other weights."""
    if policy_name == "fifo_per_desk":
        return run_day(scenario, visits, FifoPerDesk(scenario.counters), scenario.counters)
    counters = pooled_counters(scenario) if policy_name == "pooled" else scenario.counters
    weights = {"longest_wait_first": LONGEST_WAIT_FIRST, "tessera": tessera_policy,
               "pooled": LONGEST_WAIT_FIRST}.get(policy_name)
    if weights is None:
        raise ValueError(f"Unknown policy {policy_name!r}; known: {', '.join(POLICIES)}.")
    routing = ScriptRouting(scenario, counters, live, weights,
                            DAY_ONE_OPENING + day * SECONDS_PER_DAY)
    try:
        return run_day(scenario, visits, routing, counters)
    finally:
        routing.close()


def simulate(scenario_path: str, live: LiveState, days: int = 10, *,
             tessera_policy: RoutingPolicy = TESSERA,
             policies: Iterable[str] = POLICIES) -> dict:
    """Simulate `days` seeded days of a scenario under each policy.

    Returns {"scenario": name, "days": n, "policies": {policy: figures}},
    where figures are the means over days of each day's figures (waits in
    minutes, shares from 0 to 1), with each day's own figures in "per_day".
    `tessera_policy` and `policies` are for tuning: other weights for the
    "tessera" column, or fewer columns. Raises ValueError on a bad scenario
    file or a bad number of days.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"The number of days must be a whole number of at least 1, not {days!r}.")
    scenario = load_scenario(scenario_path)
    policies = tuple(policies)
    per_day: dict[str, list[dict]] = {name: [] for name in policies}
    for day in range(days):
        visits = sample_day(scenario, day)
        for name in policies:
            served = run_policy(scenario, visits, live, name, day, tessera_policy)
            per_day[name].append(day_figures(served))
    return {"scenario": scenario.name, "days": days,
            "policies": {name: average_days(per_day[name]) for name in policies}}


ROWS = (
    ("steps", "Steps called (all days)", "{:d}"),
    ("mean_wait", "Mean wait (min)", "{:.1f}"),
    ("p90_wait", "90th percentile wait (min)", "{:.1f}"),
    ("longest_wait", "Longest wait (min, mean of days)", "{:.1f}"),
    ("longest_wait_any_day", "Longest wait (min, any day)", "{:.1f}"),
    ("within_target", "Served within target", "{:.1%}"),
    ("in_language", "Served in visitor's language", "{:.1%}"),
    ("in_language_coverable", "  ... of coverable steps", "{:.1%}"),
    ("coverable_steps", "Coverable steps (all days)", "{:d}"),
)


def render_table(report: dict) -> str:
    """The report as a plain-text table, one column per policy."""
    names = list(report["policies"])
    label_width = max(len(label) for _, label, _ in ROWS)
    widths = [max(len(name), 8) for name in names]
    lines = [
        f"Scenario {report['scenario']}: {report['days']} day(s), means of daily figures",
        "",
        " " * label_width + "  " + "  ".join(name.rjust(width)
                                             for name, width in zip(names, widths, strict=True)),
    ]
    for key, label, form in ROWS:
        cells = [form.format(report["policies"][name][key]).rjust(width)
                 for name, width in zip(names, widths, strict=True)]
        lines.append(label.ljust(label_width) + "  " + "  ".join(cells))
    lines += [
        "",
        "Coverable: some counter serving the step's service speaks the visitor's language.",
    ]
    return "\n".join(lines)
