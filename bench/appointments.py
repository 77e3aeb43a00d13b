"""Booked visits beside walk-ins: the reference day at 0%, 20% and 40% booked.

    python -m bench.appointments [--days 10] [--json] [--redis-url URL]

Issue 9, simulation. The reference day (../shared/scenarios/oss-reference.yaml,
read from there) with an `appointments:` section added in a temporary
folder: a share of its visits booked (BOOKED_SHARES, of every service alike)
on SLOT_MINUTES slots spread over the opening hours, booked visitors coming
PUNCTUALITY minutes early on average (normally spread; late is negative) and
NO_SHOW of them never coming. The walk-ins are the same visits at every
share, so only booking changes between the rows.

Tessera's policy, whose routing script lifts a step from its slot less the
policy's appointment window, runs beside longest-wait-first, which has no
appointment boost, both through the live engine's routing script on the same
seeded days. Per share and policy: the walk-in mean wait, the share of
appointments called within 5 minutes of their slot (from the later of slot
and arrival; see tessera/planning/report.py), the overall mean wait and the
share of steps served within their service's target.

Redis: a private embedded server unless --redis-url is given (see
bench/estimates.py); the simulation's keys are deleted afterwards.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

import yaml

from bench import markdown_table, print_report
from bench.estimates import REFERENCE, private_redis
from tessera.planning.scenario import load_scenario
from tessera.planning.simulator import simulate

BOOKED_SHARES = (0.0, 0.2, 0.4)
SLOT_MINUTES = 15
PUNCTUALITY = {"mean": 5, "spread": 10}
NO_SHOW = 0.1
POLICIES = ("tessera", "longest_wait_first")


def build_variant(reference: dict, share: float) -> dict:
    """The reference scenario with `share` of its visits booked, as its YAML file holds it."""
    raw = json.loads(json.dumps(reference))  # a deep copy of plain YAML data
    raw["name"] = f"{raw['name']}-booked-{round(100 * share)}"
    raw["appointments"] = {"share": share, "slot_minutes": SLOT_MINUTES,
                           "punctuality": dict(PUNCTUALITY), "no_show": NO_SHOW}
    return raw


def measure(live, days: int = 10) -> list[dict]:
    """Every share of BOOKED_SHARES under each of POLICIES: one report per share."""
    load_scenario(REFERENCE)  # says what is wrong with the reference file, if anything
    reference = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    reports = []
    with tempfile.TemporaryDirectory(prefix="tessera-appointments-") as folder:
        for share in BOOKED_SHARES:
            path = Path(folder) / f"booked-{round(100 * share)}.yaml"
            path.write_text(yaml.safe_dump(build_variant(reference, share), sort_keys=False),
                            encoding="utf-8")
            report = simulate(str(path), live, days=days, policies=POLICIES)
            for figures in report["policies"].values():
                del figures["per_day"]
            reports.append({"booked": share, **report})
    return reports


COLUMNS = (
    ("walk_in_mean_wait", "walk-in mean wait (min)", "{:.2f}"),
    ("appointments_within_5", "appointments within 5 min", "{:.1%}"),
    ("mean_wait", "mean wait (min)", "{:.2f}"),
    ("within_target", "within target", "{:.1%}"),
    ("appointments", "appointments", "{:d}"),
    ("no_shows", "no-shows", "{:d}"),
)


def render_table(reports: list[dict]) -> str:
    """All shares in one Markdown table, one row per share and policy."""
    lines = markdown_table([("booked", "---:"), ("policy", "---")], COLUMNS, (
        ([f"{report['booked']:.0%}", policy], figures)
        for report in reports for policy, figures in report["policies"].items()))
    days = reports[0]["days"] if reports else 0
    lines += ["", f"{days} seeded day(s) per share; appointments and no-shows are totals."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: build the variants, run both policies on each, print the table or JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.appointments",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--days", type=int, default=10, help="seeded days per share (10)")
    parser.add_argument("--redis-url", help="a Redis to use instead of a private embedded one")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    arguments = parser.parse_args(argv)

    def run() -> list[dict]:
        with private_redis(arguments.redis_url) as live:
            return measure(live, days=arguments.days)

    return print_report(run, arguments.json, render_table)


if __name__ == "__main__":
    sys.exit(main())
