"""The language boost at a lone desk: two rules side by side on the same visitors.

    python -m bench.lone_desk [--days 10] [--json] [--redis-url URL]

Issue 8, point 8. Tessera's language boost lifts a visitor whose language the
counter's staff speak. Where another counter on duty serves the service
without speaking that language, the boost changes *who* serves the visitor.
At a counter alone with its service (no other counter on duty serves it),
every visitor of the service is served there whatever happens, so the boost
can only change the *order*: visitors in a language the desk speaks (the site
language always among them) go ahead of earlier ones. The two rules, as the
policy option RoutingPolicy.language_boost_when_alone:

- "readme": the boost only where another desk on duty serving the service lacks
  the language (language_boost_when_alone=False);
- "alone": the boost at a lone desk as well (language_boost_when_alone=True).

Both run the live engine's routing script (tessera/queue/call_next.lua)
through the simulator's ScriptRouting, on the same seeded days, beside
longest-wait-first, which never reorders visitors of one service. Scenarios:
the reference day (../shared/scenarios/oss-reference.yaml, read from there)
and variants built from it in a temporary folder, so that more services
have a single desk:

- fewer-desks: without desk-2, desk-5 and desk-10 (registration, the job
  services, health, legal advice and language courses are left to one desk);
- one-desk-per-service: each service kept only at the first desk serving it;
- one-desk-per-service-busy: the same, 15% more visitors.

A variant with fewer desks gets fewer visitors, so that the busiest desk is
as loaded as in the reference day (each service's expected work, referrals
included, split evenly over the desks serving it), times the variant's load.

Fairness: an order inversion is a pair of steps of one service with the same
priority need where the visit that arrived later was called while the earlier
one was already waiting (a referral keeps its visit's arrival time, as the
queue does). "Overtaken" is the share of steps passed by at least one such
later arrival; "at lone desks" counts the inversions at services one desk serves.

Redis: a private embedded server unless --redis-url is given (see
bench/estimates.py); the simulation's keys are deleted afterwards.
"""

import argparse
import json
import statistics
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from bench import markdown_table, print_report
from bench.estimates import REFERENCE, private_redis
from tessera.planning.day import WaitingStep, run_day
from tessera.planning.report import average_days, day_figures
from tessera.planning.routings import ScriptRouting
from tessera.planning.sampling import sample_day
from tessera.planning.scenario import load_scenario
from tessera.planning.simulator import DAY_ONE_OPENING, SECONDS_PER_DAY
from tessera.queue.live import LiveState
from tessera.queue.routing import LONGEST_WAIT_FIRST, TESSERA

RULES = {
    "longest_wait_first": LONGEST_WAIT_FIRST,
    "alone": replace(TESSERA, language_boost_when_alone=True),
    "readme": replace(TESSERA, language_boost_when_alone=False),
}
FAIRNESS = ("inversions", "overtaken", "inversions_at_lone_desks")


@dataclass(frozen=True)
class Variant:
    """A scenario built from the reference: desks removed or services narrowed, and its load."""

    name: str
    drop_desks: tuple[str, ...] = ()
    one_desk_per_service: bool = False
    load: float = 1.0


VARIANTS = (
    Variant("oss-reference"),
    Variant("fewer-desks", drop_desks=("desk-2", "desk-5", "desk-10")),
    Variant("one-desk-per-service", one_desk_per_service=True),
    Variant("one-desk-per-service-busy", one_desk_per_service=True, load=1.15),
)


def busiest_desk_minutes(raw: dict) -> float:
    """The expected work of the busiest desk in a scenario's day, in minutes.

    Each service's expected steps per day (first requests and referrals, the
    referral chains followed to their end) times its mean handling time, split
    evenly over the desks serving it. A rough figure, only used to scale
    variants against the reference.
    """
    open_minutes = raw["open_hours"] * 60 - raw.get("arrivals_stop_before_close", 0)
    visits = sum(rate * max(0.0, min(60.0, open_minutes - 60 * hour)) / 60
                 for hour, rate in enumerate(raw["arrivals_per_hour"]))
    steps = {name: visits * fields["share"] for name, fields in raw["services"].items()}
    flowing = dict(steps)
    for _ in range(8):  # the simulator's longest journey
        onward: dict[str, float] = defaultdict(float)
        for source, count in flowing.items():
            for target, chance in (raw.get("referrals") or {}).get(source, {}).items():
                onward[target] += count * chance
        for name, count in onward.items():
            steps[name] += count
        flowing = onward
    desks = defaultdict(float)
    for name, fields in raw["services"].items():
        serving = [desk for desk, spec in raw["counters"].items() if name in spec["services"]]
        for desk in serving:
            desks[desk] += steps[name] * fields["mean"] / len(serving)
    return max(desks.values())


def build_variant(reference: dict, variant: Variant) -> dict:
    """The variant's scenario, as the mapping its YAML file holds."""
    raw = json.loads(json.dumps(reference))  # a deep copy of plain YAML data
    raw["name"] = variant.name
    counters = {desk: spec for desk, spec in raw["counters"].items()
                if desk not in variant.drop_desks}
    if variant.one_desk_per_service:
        taken: set[str] = set()
        for spec in counters.values():
            spec["services"] = [name for name in spec["services"] if name not in taken]
            taken.update(spec["services"])
        counters = {desk: spec for desk, spec in counters.items() if spec["services"]}
    raw["counters"] = counters
    scale = variant.load * busiest_desk_minutes(reference) / busiest_desk_minutes(raw)
    raw["arrivals_per_hour"] = [round(rate * scale, 2) for rate in raw["arrivals_per_hour"]]
    return raw


@dataclass(frozen=True)
class Called:
    """When a step was called, and what its place in the queue was."""

    service: str
    arrived_at: float  # the visit's arrival: the queue's order
    queued_at: float
    called_at: float
    priority: bool


def fairness(called: list[Called], lone_services: set[str]) -> dict:
    """Order inversions among the steps of one day; see the module doc."""
    per_service: dict[str, list[Called]] = defaultdict(list)
    for step in called:
        per_service[step.service].append(step)
    inversions = at_lone_desks = overtaken = 0
    for service, steps in per_service.items():
        for earlier in steps:
            passed_by = sum(1 for later in steps
                            if later.priority == earlier.priority
                            and later.arrived_at > earlier.arrived_at
                            and earlier.queued_at <= later.called_at < earlier.called_at)
            inversions += passed_by
            overtaken += passed_by > 0
            if service in lone_services:
                at_lone_desks += passed_by
    return {"inversions": inversions, "overtaken": overtaken / len(called) if called else 0.0,
            "inversions_at_lone_desks": at_lone_desks}


def compare(scenario_path: str | Path, live: LiveState, days: int = 10) -> dict:
    """Every rule of RULES on the same seeded days of one scenario: figures and fairness."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"The number of days must be a whole number of at least 1, not {days!r}.")
    scenario = load_scenario(scenario_path)
    lone = {name for name in scenario.services
            if sum(name in counter.services for counter in scenario.counters) == 1}
    per_day: dict[str, list[dict]] = {name: [] for name in RULES}
    for day in range(days):
        visits = sample_day(scenario, day)
        for name, policy in RULES.items():
            called: list[Called] = []

            def on_called(now: float, step: WaitingStep, called=called) -> None:
                called.append(Called(step.service, step.visit.arrived_at, step.queued_at, now,
                                     step.visit.priority))

            routing = ScriptRouting(scenario, scenario.counters, live, policy,
                                    DAY_ONE_OPENING + day * SECONDS_PER_DAY)
            try:
                served = run_day(scenario, visits, routing, scenario.counters,
                                 on_called=on_called)
            finally:
                routing.close()
            per_day[name].append(day_figures(served) | fairness(called, lone))
    rules = {}
    for name, days_figures in per_day.items():
        figures = average_days(days_figures)
        for key in FAIRNESS:
            figures[key] = round(statistics.fmean(day[key] for day in days_figures), 4)
        del figures["per_day"]
        rules[name] = figures
    return {"scenario": scenario.name, "days": days, "desks": len(scenario.counters),
            "lone_services": sorted(lone), "visits_per_day": round(statistics.fmean(
                len(sample_day(scenario, day)) for day in range(days)), 1),
            "rules": rules}


COLUMNS = (
    ("mean_wait", "mean wait (min)", "{:.2f}"),
    ("p90_wait", "p90 (min)", "{:.1f}"),
    ("longest_wait", "longest (min)", "{:.1f}"),
    ("within_target", "within target", "{:.1%}"),
    ("in_language", "in language", "{:.1%}"),
    ("in_language_coverable", "in language (coverable)", "{:.1%}"),
    ("inversions", "inversions / day", "{:.1f}"),
    ("inversions_at_lone_desks", "... at lone desks", "{:.1f}"),
    ("overtaken", "steps overtaken", "{:.1%}"),
)


def render_table(reports: list[dict]) -> str:
    """All scenarios in one Markdown table, then the readme ÷ alone ratios."""
    lines = markdown_table([("scenario", "---"), ("rule", "---")], COLUMNS, (
        ([report["scenario"], rule], figures)
        for report in reports for rule, figures in report["rules"].items()))
    lines.append("")
    for report in reports:
        readme, alone = report["rules"]["readme"], report["rules"]["alone"]
        lines.append(
            f"{report['scenario']}: {report['desks']} desks, {report['visits_per_day']} visits "
            f"a day, lone desks for {', '.join(report['lone_services']) or 'no service'}; "
            f"readme ÷ alone: mean wait {readme['mean_wait'] / alone['mean_wait']:.3f}, "
            f"longest {readme['longest_wait'] / alone['longest_wait']:.3f}, "
            f"within target {100 * (readme['within_target'] - alone['within_target']):+.2f} "
            f"points, inversions {readme['inversions'] / max(alone['inversions'], 1e-9):.3f}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: build the variants, run every rule on each, print the table or JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.lone_desk",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--days", type=int, default=10, help="seeded days per scenario (10)")
    parser.add_argument("--redis-url", help="a Redis to use instead of a private embedded one")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    arguments = parser.parse_args(argv)

    def run() -> list[dict]:
        load_scenario(REFERENCE)  # says what is wrong with the reference file, if anything
        reference = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
        with private_redis(arguments.redis_url) as live, \
                tempfile.TemporaryDirectory(prefix="tessera-lone-desk-") as folder:
            reports = []
            for variant in VARIANTS:
                path = Path(folder) / f"{variant.name}.yaml"
                path.write_text(yaml.safe_dump(build_variant(reference, variant),
                                               sort_keys=False), encoding="utf-8")
                reports.append(compare(path, live, days=arguments.days))
            return reports

    return print_report(run, arguments.json, render_table)


if __name__ == "__main__":
    sys.exit(main())
