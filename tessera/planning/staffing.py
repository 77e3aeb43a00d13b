"""The staffing plan: how many desks, for which services, speaking which languages, when.

For each weekday to plan (tessera.planning.demand) and each service and opening hour:
1. Erlang C (tessera.planning.erlang) gives the desks that would call the chosen share
   of visitors (80% by default) within the service's target wait, were each service
   served by desks of its own.
2. Desks are put on duty hour by hour to provide those: each is counted for one
   service, and the desk chosen is the one serving the fewest other services, then the
   one adding the most of the hour's languages nobody on duty speaks yet.
3. The simulator plays the day through the roster under the live routing
   (tessera.planning.shifts), since real desks serve several services and visitors
   speak many languages. Where an hour misses (a service with at least
   MIN_JUDGED_STEPS steps in it calling fewer than the share within target), or a
   service misses over the whole day (then at its worst hour), one more desk goes on
   duty there, and the day is simulated again, up to MAX_ROUNDS times.
4. Since shared desks pool their time, the day usually needs fewer desks than step 1
   says: desks are then taken away hour by hour while the simulated day still meets
   the share (trim), and any hour that would miss keeps its desk.
The plan also says which languages the desks of each hour should cover: those of at
least LANGUAGE_MIN_PER_HOUR expected visitors an hour, with the desks on duty that
speak them and who else could.
"""

import csv
import io
from dataclasses import dataclass, field, replace

from tessera.planning.demand import DayDemand
from tessera.planning.erlang import desks_needed, service_level
from tessera.planning.scenario import CounterSpec, Scenario
from tessera.planning.shifts import Roster, SimulatedDays, figures, simulate_roster
from tessera.queue.live import LiveState

DEFAULT_SHARE = 0.8
# An hour's share within target is judged alone once it has this many simulated steps;
# below that one late visitor would swing it by 20 points or more.
MIN_JUDGED_STEPS = 5
MAX_ROUNDS = 8
MAX_TRIM_ROUNDS = 6
LANGUAGE_MIN_PER_HOUR = 0.5
# The row of the plan, as --json, the API and the CSV give it, in this order.
ROW_FIELDS = ("service", "weekday", "hour", "arrivals_per_hour", "mean_handling_minutes",
              "desks_needed", "expected_within_target")
WHAT_IF_ACTIONS = ("add_desk", "remove_desk", "add_language", "remove_language")


@dataclass
class Desk:
    """A desk on duty in one hour: counted for one service, open in some languages."""

    counter: str
    service: str
    languages: tuple[str, ...]


@dataclass
class DayPlan:
    """One weekday's plan while it is made, and once it is.

    `counters` are the site's desks, then any extra desk the plan needs because every
    desk able to serve a service is already on duty: an extra desk is a copy of the
    site's most specialised desk for that service (its services and languages), named
    after it, and says that the centre needs one more such desk (or a second person
    sharing it) at that hour.
    """

    demand: DayDemand
    share: float
    erlang: dict[tuple[str, int], int]
    desks: dict[int, list[Desk]]
    counters: list[CounterSpec]
    extra: set[str] = field(default_factory=set)
    simulated: SimulatedDays | None = None
    rounds: int = 0
    missing: list[tuple[str, int]] = field(default_factory=list)

    @property
    def scenario(self) -> Scenario:
        """The day's scenario with the plan's desks, extra ones included."""
        return replace(self.demand.scenario, counters=tuple(self.counters))

    def roster(self) -> Roster:
        """The desks on duty per opening hour, with their languages, for the simulator."""
        return {hour: {desk.counter: desk.languages for desk in self.desks.get(hour, [])}
                for hour in range(self.demand.scenario.open_hours)}

    def copy(self) -> "DayPlan":
        """A plan to change (a what-if) without touching this one."""
        return DayPlan(self.demand, self.share, self.erlang,
                       {hour: [Desk(d.counter, d.service, d.languages) for d in desks]
                        for hour, desks in self.desks.items()},
                       list(self.counters), set(self.extra))


def _choose_desk(plan: DayPlan, service: str, hour: int) -> CounterSpec:
    """The desk to put on duty for `service` at `hour`: a free one, else an extra one."""
    on_duty = {desk.counter for desk in plan.desks.get(hour, [])}
    spoken = {language for desk in plan.desks.get(hour, []) for language in desk.languages}
    shares = plan.demand.scenario.languages
    able = [counter for counter in plan.counters if service in counter.services]
    candidates = [counter for counter in able if counter.name not in on_duty]
    # min() keeps the first of equals: ties go by the site's desk order.
    if candidates:
        return min(candidates, key=lambda counter: (
            len(counter.services),
            -sum(shares.get(language, 0) for language in set(counter.languages) - spoken)))
    model = min(able, key=lambda counter: len(counter.services))
    base = model.name.split(" +")[0]
    number = 1 + sum(name.startswith(f"{base} +") for name in plan.extra)
    extra = replace(model, name=f"{base} +{number}",
                    counter_id=max(counter.counter_id for counter in plan.counters) + 1)
    plan.counters.append(extra)
    plan.extra.add(extra.name)
    return extra


def _add_desk(plan: DayPlan, service: str, hour: int) -> None:
    counter = _choose_desk(plan, service, hour)
    plan.desks.setdefault(hour, []).append(Desk(counter.name, service,
                                                tuple(counter.languages)))


def initial_plan(demand: DayDemand, share: float = DEFAULT_SHARE) -> DayPlan:
    """Erlang C's desks per service and hour, put on duty from the site's desks.

    The services with the fewest desks able to serve them choose first, so that a
    desk shared with a busier service is not taken from the only service it can help.
    """
    scenario = demand.scenario
    erlang = {(service, hour): desks_needed(cell.arrivals_per_hour, cell.mean_handling_minutes,
                                            scenario.services[service].target_seconds / 60,
                                            share)
              for (service, hour), cell in demand.cells.items()}
    plan = DayPlan(demand, share, erlang, {hour: [] for hour in range(scenario.open_hours)},
                   list(scenario.counters))
    able = {service: sum(service in counter.services for counter in scenario.counters)
            for service in scenario.services}
    for hour in range(scenario.open_hours):
        wanted = sorted((service for service in scenario.services
                         if erlang.get((service, hour), 0)),
                        key=lambda service: (able[service], -erlang[service, hour]))
        for service in wanted:
            for _ in range(erlang[service, hour]):
                _add_desk(plan, service, hour)
    return plan


def _missing(plan: DayPlan) -> list[tuple[str, int]]:
    """The (service, hour) cells to give one more desk, from the last simulated days."""
    by_cell: dict[tuple[str, int], list] = {}
    by_service: dict[str, list] = {}
    for step in plan.simulated.steps:
        by_cell.setdefault((step.service, step.hour), []).append(step.within_target)
        by_service.setdefault(step.service, []).append(step.within_target)
    hours = plan.demand.scenario.open_hours
    missing = [cell for cell, hits in sorted(by_cell.items())
               if cell[1] < hours and len(hits) >= MIN_JUDGED_STEPS
               and sum(hits) / len(hits) < plan.share]
    for service, hits in sorted(by_service.items()):
        if sum(hits) / len(hits) >= plan.share or any(cell[0] == service for cell in missing):
            continue
        worst = min((cell for cell in by_cell if cell[0] == service and cell[1] < hours),
                    key=lambda cell: (sum(by_cell[cell]) / len(by_cell[cell]),
                                      -len(by_cell[cell])), default=None)
        if worst is not None:
            missing.append(worst)
    return missing


def verify(plan: DayPlan, live: LiveState, days: int = 1,
           max_rounds: int = MAX_ROUNDS) -> DayPlan:
    """Simulate the plan and add a desk where an hour misses, until the days meet the share.

    Stops when the simulated days meet it, or after `max_rounds` rounds of additions;
    `missing` then says what still misses.
    """
    while True:
        plan.simulated = simulate_roster(plan.scenario, plan.roster(), live, days)
        plan.missing = _missing(plan)
        if not plan.missing or plan.rounds >= max_rounds:
            return plan
        for service, hour in plan.missing:
            _add_desk(plan, service, hour)
        plan.rounds += 1


def _spare_desk(plan: DayPlan, hour: int) -> Desk | None:
    """The desk of `hour` most likely not to be missed: of the service with the most
    desks beyond its traffic, an extra desk first; None if every service needs all its own.

    A service keeps at least one desk while it has any arrivals at that hour.
    """
    desks = plan.desks.get(hour, [])
    best, best_spare = None, 0.0
    for service in {desk.service for desk in desks}:
        mine = [desk for desk in desks if desk.service == service]
        cell = plan.demand.cells.get((service, hour))
        traffic = cell.arrivals_per_hour * cell.mean_handling_minutes / 60 if cell else 0.0
        if traffic > 0 and len(mine) < 2:
            continue
        spare = len(mine) - traffic
        if spare > best_spare:
            extra = [desk for desk in mine if desk.counter in plan.extra]
            best, best_spare = (extra or mine)[-1], spare
    return best


def trim(plan: DayPlan, live: LiveState, days: int = 1,
         max_rounds: int = MAX_TRIM_ROUNDS) -> DayPlan:
    """Take desks away where the simulated day can spare them, keeping it within the share.

    Erlang C counts each service as if it had desks of its own; desks serving several
    services pool their time, so the first plan is generous. Each round takes one desk
    from every hour not yet settled, simulates, and puts back the desks of the hours
    that then miss (and of the hour before, whose queue they inherit); an hour that
    could not spare a desk is settled. Ends on a simulated day that meets the share, or
    with the desks of the last met day.
    """
    settled: set[int] = set()
    for _ in range(max_rounds):
        removed = {}
        for hour in range(plan.demand.scenario.open_hours):
            desk = None if hour in settled else _spare_desk(plan, hour)
            if desk is not None:
                plan.desks[hour].remove(desk)
                removed[hour] = desk
        if not removed:
            break
        plan.simulated = simulate_roster(plan.scenario, plan.roster(), live, days)
        plan.missing = _missing(plan)
        if not plan.missing:
            continue
        missed = {hour for _, hour in plan.missing}
        back = {hour for hour in removed if hour in missed or hour + 1 in missed}
        for hour in back:
            plan.desks[hour].append(removed[hour])
            settled.add(hour)
        plan.simulated = simulate_roster(plan.scenario, plan.roster(), live, days)
        plan.missing = _missing(plan)
        if plan.missing:
            # The hours interact beyond the one before: undo the whole round and stop.
            for hour in set(removed) - back:
                plan.desks[hour].append(removed[hour])
            plan.simulated = simulate_roster(plan.scenario, plan.roster(), live, days)
            plan.missing = _missing(plan)
            break
    return plan


def plan_day(demand: DayDemand, live: LiveState, share: float = DEFAULT_SHARE,
             days: int = 1, max_rounds: int = MAX_ROUNDS, spare: bool = True) -> DayPlan:
    """The verified plan of one weekday (see the module doc).

    Erlang C, then desks added where the simulated day misses; then, with `spare`,
    desks the simulated day can do without taken away (trim), and checked once more.
    """
    plan = verify(initial_plan(demand, share), live, days, max_rounds)
    if spare and not plan.missing:
        plan = trim(plan, live, days)
        if plan.missing:
            plan = verify(plan, live, days, max_rounds)
    return plan


def language_cover(plan: DayPlan, hour: int) -> list[dict]:
    """The languages the desks on duty at `hour` should cover, most expected first.

    Each says how many visitors an hour to expect in it, the desks on duty that speak
    it (empty: nobody on duty does) and who else speaks it (staff, or a scenario's desks).
    """
    scenario = plan.demand.scenario
    visitors = scenario.arrivals_per_hour[hour] if hour < len(scenario.arrivals_per_hour) else 0
    desks = plan.desks.get(hour, [])
    cover = []
    for language, share in sorted(scenario.languages.items(), key=lambda item: -item[1]):
        expected = visitors * share
        if expected < LANGUAGE_MIN_PER_HOUR:
            continue
        speaking = [desk.counter for desk in desks if language in desk.languages]
        cover.append({"language": language, "share": round(share, 3),
                      "expected_per_hour": round(expected, 1), "desks": speaking,
                      "covered": bool(speaking),
                      "speakers": [name for name in plan.demand.speakers.get(language, ())
                                   if name not in speaking]})
    return cover


def _within(steps) -> float | None:
    return round(sum(steps) / len(steps), 3) if steps else None


def day_rows(plan: DayPlan) -> list[dict]:
    """The plan's rows of one weekday: ROW_FIELDS, then what the page shows besides.

    `desks_needed` is what the verified plan puts on duty for the service (Erlang C's
    figure, plus the desks the simulator asked for); `extra_desks` of them are desks
    the site does not have. `expected_within_target` is the simulated share
    of the hour's steps of the service called within its target (None without any).
    """
    demand = plan.demand
    cells: dict[tuple[str, int], list] = {}
    for step in plan.simulated.steps if plan.simulated else ():
        cells.setdefault((step.service, step.hour), []).append(step.within_target)
    rows = []
    for service in demand.scenario.services:
        target = demand.scenario.services[service].target_seconds / 60
        for hour in range(demand.scenario.open_hours):
            cell = demand.cells.get((service, hour))
            mine = [desk for desk in plan.desks.get(hour, []) if desk.service == service]
            if cell is None or (not cell.arrivals_per_hour and not mine):
                continue
            needed = len(mine)
            rows.append({
                "service": service, "weekday": demand.weekday, "hour": demand.opens_at + hour,
                "arrivals_per_hour": cell.arrivals_per_hour,
                "mean_handling_minutes": cell.mean_handling_minutes,
                "desks_needed": needed,
                "expected_within_target": _within(cells.get((service, hour), [])),
                "erlang_desks": plan.erlang.get((service, hour), 0),
                "erlang_within_target": round(service_level(
                    needed, cell.arrivals_per_hour, cell.mean_handling_minutes, target), 3),
                "simulated_steps": len(cells.get((service, hour), [])),
                "extra_desks": sum(desk.counter in plan.extra for desk in mine),
                "label": demand.labels.get(service, service),
            })
    return rows


def day_summary(plan: DayPlan) -> dict:
    """One weekday: the desks and language cover per hour, and the simulated figures."""
    steps = plan.simulated.steps if plan.simulated else []
    services = {}
    for service in plan.demand.scenario.services:
        services[service] = figures([step for step in steps if step.service == service])
    return {
        "weekday": plan.demand.weekday, "opens_at": plan.demand.opens_at,
        "hours": [{"hour": plan.demand.opens_at + hour,
                   "desks": [{"counter": desk.counter, "service": desk.service,
                              "languages": list(desk.languages),
                              "extra": desk.counter in plan.extra}
                             for desk in plan.desks.get(hour, [])],
                   "languages": language_cover(plan, hour)}
                  for hour in range(plan.demand.scenario.open_hours)],
        "figures": figures(steps), "services": services,
        "met": not plan.missing, "rounds": plan.rounds,
        # Extra desks a trim took away at every hour are not needed after all.
        "extra_desks": sorted(plan.extra & {desk.counter for desks in plan.desks.values()
                                            for desk in desks}),
        "missing": [{"service": service, "hour": plan.demand.opens_at + hour}
                    for service, hour in plan.missing],
        "unserved": list(plan.demand.unserved),
        "simulated_days": plan.simulated.days if plan.simulated else 0,
    }


def make_plan(demands: list[DayDemand], live: LiveState, share: float = DEFAULT_SHARE,
              days: int = 1, max_rounds: int = MAX_ROUNDS) -> dict:
    """The verified plan of every weekday: {"share", "rows", "days"}.

    `rows` are per service, weekday and hour (see day_rows); `days` per weekday (see
    day_summary). Raises ValueError on a share outside (0, 1).
    """
    if not 0 < share < 1:
        raise ValueError(f"The share must lie between 0 and 1, not {share!r}.")
    plans = [plan_day(demand, live, share, days, max_rounds) for demand in demands]
    return {"share": share, "rows": [row for plan in plans for row in day_rows(plan)],
            "days": [day_summary(plan) for plan in plans]}


def public_rows(rows: list[dict]) -> list[dict]:
    """The rows with exactly ROW_FIELDS, as --json and the API's CSV give them."""
    return [{name: row[name] for name in ROW_FIELDS} for row in rows]


def rows_csv(rows: list[dict]) -> str:
    """The rows as CSV, a header line first."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROW_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in public_rows(rows):
        writer.writerow({name: "" if value is None else value for name, value in row.items()})
    return out.getvalue()


@dataclass(frozen=True)
class Change:
    """One change of a what-if, at the local `hours` of the plan's weekday.

    add_desk / remove_desk: one desk more or less for `service`; add_language /
    remove_language: a speaker of `language` joins (or leaves) a desk on duty, one
    serving `service` if given.
    """

    action: str
    hours: tuple[int, ...]
    service: str | None = None
    language: str | None = None


def _apply(plan: DayPlan, change: Change) -> list[dict]:
    """Apply one change in place; returns what could not be done: {"hour", "reason"}.

    Reasons: "closed" (not an opening hour), "no_desk" (nothing to remove, or no desk
    on duty to take or lose the language).
    """
    if change.action not in WHAT_IF_ACTIONS:
        raise ValueError(f"Unknown change {change.action!r}; known: {', '.join(WHAT_IF_ACTIONS)}.")
    scenario = plan.demand.scenario
    if change.action in ("add_desk", "remove_desk") and change.service not in scenario.services:
        raise ValueError(f"Unknown service {change.service!r}.")
    if change.action in ("add_language", "remove_language") and not change.language:
        raise ValueError("Say which language.")
    problems = []
    for local in change.hours:
        hour = local - plan.demand.opens_at
        if not 0 <= hour < scenario.open_hours:
            problems.append({"hour": local, "reason": "closed"})
            continue
        desks = plan.desks.setdefault(hour, [])
        if change.action == "add_desk":
            _add_desk(plan, change.service, hour)
            continue
        if change.action == "remove_desk":
            mine = [desk for desk in desks if desk.service == change.service]
            if mine:
                desks.remove(mine[-1])
            else:
                problems.append({"hour": local, "reason": "no_desk"})
            continue
        adding = change.action == "add_language"
        # The site's language is spoken at every desk: it cannot leave one.
        fits = [desk for desk in desks if (change.language in desk.languages) != adding
                and (adding or change.language != scenario.site_language)]
        # A desk of the named service first, then any desk on duty.
        fits.sort(key=lambda desk: desk.service != change.service)
        if not fits:
            problems.append({"hour": local, "reason": "no_desk"})
            continue
        desk = fits[0]
        desk.languages = (tuple([*desk.languages, change.language]) if adding else
                          tuple(code for code in desk.languages if code != change.language))
    return problems


def what_if(plan: DayPlan, changes: list[Change], live: LiveState, days: int = 1) -> dict:
    """The plan changed by `changes`, simulated beside the plan on the same visitors.

    Returns {"current": figures, "changed": figures, "services": {service: {"current",
    "changed"}}, "desks": desk-hours of each, "problems": [...]}, with the figures of
    tessera.planning.shifts.figures. Raises ValueError on an unknown change or service.
    """
    changed = plan.copy()
    problems = [problem for change in changes for problem in _apply(changed, change)]
    current = plan.simulated
    if current is None or current.days != days:
        current = simulate_roster(plan.scenario, plan.roster(), live, days)
    after = simulate_roster(changed.scenario, changed.roster(), live, days)
    return {
        "current": figures(current.steps), "changed": figures(after.steps),
        "services": {service: {"current": figures([s for s in current.steps
                                                   if s.service == service]),
                               "changed": figures([s for s in after.steps
                                                   if s.service == service])}
                     for service in plan.demand.scenario.services},
        "desks": {"current": sum(len(desks) for desks in plan.desks.values()),
                  "changed": sum(len(desks) for desks in changed.desks.values())},
        "problems": problems,
    }
