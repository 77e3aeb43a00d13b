"""Centres of every shape: Tessera's routing against longest-wait-first on generated centres.

    python -m bench.centres [--centres 30] [--days 10] [--seed 12] [--processes 2]
                            [--json] [--redis-url URL]

Issue 12, point 1. The routing policy was tuned on the reference day; this
runs it on centres it was not tuned on. The centres are written by the
scenario generator (tessera/planning/generator.py, the same files as
`python -m tessera scenarios generate --count N --seed S`) into a temporary
folder; each is simulated for the given seeded days under Tessera's policy
and under longest-wait-first (LWF), both through the live engine's routing
script (tessera/queue/call_next.lua), on the same visitors.

Per centre, Tessera against LWF, each from the means of daily figures: the
mean-wait ratio, the longest-wait ratio (longest wait of each day, averaged),
the difference in share served within target (points), and the share of
coverable steps (some desk serving the service speaks the visitor's language)
served in the visitor's language, under both. Then the distribution over
centres (median and worst) and the issue's targets: on every centre, within
target at least LWF's minus 0.5 points and mean wait at most 1.05 x LWF's;
language-matched share at least 70% of coverable steps on the median centre,
and on every centre at least LWF's plus 10 points.

Centres are spread over worker processes (each with its own private embedded
Redis, or all on --redis-url: every simulated day has its own throwaway site).
"""

import argparse
import multiprocessing
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

from bench import markdown_table, print_report
from bench.estimates import private_redis
from tessera.planning.generator import capacity_load, generate
from tessera.planning.scenario import load_scenario
from tessera.planning.simulator import simulate

POLICIES = ("longest_wait_first", "tessera")
# The targets.
WITHIN_TARGET_SLACK_POINTS = -0.5
MEAN_WAIT_RATIO_AT_MOST = 1.05
LANGUAGE_MEDIAN_AT_LEAST = 0.70
LANGUAGE_GAIN_AT_LEAST_POINTS = 10.0


def _ratio(tessera: float, baseline: float) -> float:
    # Two empty days (no waiting at all) are a tie, not a division by zero.
    if baseline <= 0:
        return 1.0 if tessera <= 0 else float("inf")
    return tessera / baseline


def compare_centre(path: str, days: int, redis_url: str | None) -> dict:
    """One centre under both policies: its shape and Tessera-against-LWF figures."""
    scenario = load_scenario(path)
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    with private_redis(redis_url) as live:
        report = simulate(path, live, days=days, policies=POLICIES)
    lwf, tessera = (report["policies"][name] for name in POLICIES)
    return {
        "centre": scenario.name,
        "desks": len(scenario.counters),
        "services": len(scenario.services),
        "languages": len(scenario.languages),
        "load": round(capacity_load(raw), 3),
        "booked": scenario.appointments is not None,
        "steps": tessera["steps"],
        "coverable_steps": tessera["coverable_steps"],
        "lwf_mean_wait": lwf["mean_wait"],
        "tessera_mean_wait": tessera["mean_wait"],
        "mean_wait_ratio": round(_ratio(tessera["mean_wait"], lwf["mean_wait"]), 4),
        "longest_wait_ratio": round(_ratio(tessera["longest_wait"], lwf["longest_wait"]), 4),
        "lwf_within_target": lwf["within_target"],
        "tessera_within_target": tessera["within_target"],
        "within_target_points": round(100 * (tessera["within_target"] - lwf["within_target"]),
                                      2),
        "lwf_in_language": lwf["in_language_coverable"],
        "tessera_in_language": tessera["in_language_coverable"],
        "in_language_gain_points": round(
            100 * (tessera["in_language_coverable"] - lwf["in_language_coverable"]), 2),
    }


def _compare(arguments: tuple[str, int, str | None]) -> dict:
    return compare_centre(*arguments)


# figure, worst is the highest (True) or the lowest (False)
DISTRIBUTED = (
    ("mean_wait_ratio", True),
    ("longest_wait_ratio", True),
    ("within_target_points", False),
    ("tessera_in_language", False),
    ("lwf_in_language", False),
    ("in_language_gain_points", False),
)


def summarise(centres: list[dict]) -> dict:
    """Median and worst of each figure over the centres, and the targets met or missed."""
    distribution = {}
    for key, high_is_worst in DISTRIBUTED:
        values = [centre[key] for centre in centres]
        distribution[key] = {"median": round(statistics.median(values), 4),
                             "worst": max(values) if high_is_worst else min(values),
                             "best": min(values) if high_is_worst else max(values)}
    # Coverable steps can be none at a centre whose desks speak only the site
    # language to visitors who speak none of theirs: no language target there.
    with_language = [centre for centre in centres if centre["coverable_steps"]]
    targets = {
        "within_target": {
            "missed": [centre["centre"] for centre in centres
                       if centre["within_target_points"] < WITHIN_TARGET_SLACK_POINTS]},
        "mean_wait": {
            "missed": [centre["centre"] for centre in centres
                       if centre["mean_wait_ratio"] > MEAN_WAIT_RATIO_AT_MOST]},
        "language_median": {
            "value": round(statistics.median(centre["tessera_in_language"]
                                             for centre in with_language), 4),
            "missed": statistics.median(centre["tessera_in_language"]
                                        for centre in with_language)
            < LANGUAGE_MEDIAN_AT_LEAST},
        "language_gain": {
            "missed": [centre["centre"] for centre in with_language
                       if centre["in_language_gain_points"] < LANGUAGE_GAIN_AT_LEAST_POINTS]},
    }
    return {"distribution": distribution, "targets": targets}


def measure(count: int, days: int, seed: int, processes: int,
            redis_url: str | None = None) -> dict:
    """Generate `count` centres of `seed`, simulate each for `days` days; the report."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"The number of days must be a whole number of at least 1, not {days!r}.")
    with tempfile.TemporaryDirectory(prefix="tessera-centres-") as folder:
        paths = [str(path) for path in generate(count, seed, folder)]
        tasks = [(path, days, redis_url) for path in paths]
        if processes > 1:
            # Spawned, not forked: a fork would copy this process's open sockets.
            with multiprocessing.get_context("spawn").Pool(processes) as pool:
                centres = pool.map(_compare, tasks, chunksize=1)
        else:
            centres = [_compare(task) for task in tasks]
    return {"seed": seed, "days": days, "centres": centres} | summarise(centres)


COLUMNS = (
    ("desks", "desks", "{:d}"),
    ("services", "services", "{:d}"),
    ("languages", "languages", "{:d}"),
    ("load", "load", "{:.0%}"),
    ("steps", "steps", "{:d}"),
    ("lwf_mean_wait", "LWF mean wait (min)", "{:.1f}"),
    ("mean_wait_ratio", "mean wait ÷ LWF", "{:.3f}"),
    ("longest_wait_ratio", "longest ÷ LWF", "{:.3f}"),
    ("lwf_within_target", "LWF within target", "{:.1%}"),
    ("within_target_points", "within target ± (points)", "{:+.2f}"),
    ("lwf_in_language", "LWF in language (coverable)", "{:.1%}"),
    ("tessera_in_language", "Tessera in language (coverable)", "{:.1%}"),
)
DISTRIBUTION_TITLES = {
    "mean_wait_ratio": ("mean wait ÷ LWF", "{:.3f}"),
    "longest_wait_ratio": ("longest wait ÷ LWF", "{:.3f}"),
    "within_target_points": ("within target, Tessera - LWF (points)", "{:+.2f}"),
    "tessera_in_language": ("Tessera in language (coverable)", "{:.1%}"),
    "lwf_in_language": ("LWF in language (coverable)", "{:.1%}"),
    "in_language_gain_points": ("in language, Tessera - LWF (points)", "{:+.1f}"),
}


def render_table(report: dict) -> str:
    """Per centre, then the distribution and the targets, in Markdown."""
    lines = [f"{len(report['centres'])} generated centres (seed {report['seed']}), "
             f"{report['days']} seeded days each; Tessera against longest-wait-first (LWF).",
             ""]
    lines += markdown_table([("centre", "---"), ("booked", "---")], COLUMNS, (
        ([centre["centre"], "yes" if centre["booked"] else "no"], centre)
        for centre in report["centres"]))
    lines += ["", "| over the centres | median | worst | best |", "|---|---:|---:|---:|"]
    for key, (title, form) in DISTRIBUTION_TITLES.items():
        spread = report["distribution"][key]
        lines.append(f"| {title} | {form.format(spread['median'])} | "
                     f"{form.format(spread['worst'])} | {form.format(spread['best'])} |")
    targets = report["targets"]

    def verdict(missed) -> str:
        return "met" if not missed else f"MISSED on {len(missed)}: {', '.join(missed)}"

    lines += [
        "",
        f"Within target ≥ LWF's {WITHIN_TARGET_SLACK_POINTS:+.1f} points on every centre: "
        f"{verdict(targets['within_target']['missed'])}.",
        f"Mean wait ≤ {MEAN_WAIT_RATIO_AT_MOST} x LWF's on every centre: "
        f"{verdict(targets['mean_wait']['missed'])}.",
        f"In language ≥ {LANGUAGE_MEDIAN_AT_LEAST:.0%} of coverable steps on the median "
        f"centre: {targets['language_median']['value']:.1%}, "
        f"{'MISSED' if targets['language_median']['missed'] else 'met'}.",
        f"In language ≥ LWF's + {LANGUAGE_GAIN_AT_LEAST_POINTS:.0f} points on every centre: "
        f"{verdict(targets['language_gain']['missed'])}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: generate the centres, simulate them, print the table or JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.centres",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--centres", type=int, default=30, help="generated centres (30)")
    parser.add_argument("--days", type=int, default=10, help="seeded days per centre (10)")
    parser.add_argument("--seed", type=int, default=12, help="generator seed (12)")
    parser.add_argument("--processes", type=int, default=2,
                        help="worker processes, one centre at a time each (2)")
    parser.add_argument("--redis-url", help="a Redis to use instead of private embedded ones")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    arguments = parser.parse_args(argv)
    if arguments.centres < 1 or arguments.processes < 1:
        parser.error("--centres and --processes must be at least 1")
    return print_report(lambda: measure(arguments.centres, arguments.days, arguments.seed,
                                        arguments.processes, arguments.redis_url),
                        arguments.json, render_table)


if __name__ == "__main__":
    sys.exit(main())
