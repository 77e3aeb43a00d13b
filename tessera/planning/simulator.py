"""A discrete-event simulator of days at a site, to compare routing policies.

Every policy is run on the same sampled visitors, so differences in the
figures come from routing alone. The parts, in the order a run uses them:
the scenario file (tessera.planning.scenario), the visitors of each day
(tessera.planning.sampling), the routings, the live engine's own routing
script or a FIFO baseline (tessera.planning.routings), the event loop of one
day (tessera.planning.day) and the figures (tessera.planning.report). This
module ties them together.
"""

from collections.abc import Iterable

from tessera.planning.day import ServedStep, run_day
from tessera.planning.report import average_days, day_figures
from tessera.planning.routings import FifoPerDesk, ScriptRouting, pooled_counters
from tessera.planning.sampling import Visit, sample_bookings
from tessera.planning.scenario import Scenario, load_scenario
from tessera.queue.live import LiveState
from tessera.queue.routing import LONGEST_WAIT_FIRST, TESSERA, RoutingPolicy

POLICIES = ("fifo_per_desk", "longest_wait_first", "tessera", "pooled")
# The simulated clock, as epoch seconds for the routing script: any origin
# works, since the script only ever compares and subtracts times.
DAY_ONE_OPENING = 1_795_000_000.0
SECONDS_PER_DAY = 86_400.0


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
    minutes, shares from 0 to 1), with each day's own figures in "per_day";
    a scenario that books visits adds the appointment figures
    (tessera.planning.report).
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
        sampled = sample_bookings(scenario, day)
        no_shows = None if scenario.appointments is None else len(sampled.no_shows)
        for name in policies:
            served = run_policy(scenario, sampled.visits, live, name, day, tessera_policy)
            per_day[name].append(day_figures(served, no_shows))
    return {"scenario": scenario.name, "days": days,
            "policies": {name: average_days(per_day[name]) for name in policies}}
