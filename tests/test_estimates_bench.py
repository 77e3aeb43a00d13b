"""The wait-estimates benchmark (bench/estimates.py) on a day whose waits can be foreseen."""

from bench.estimates import ALL_STEPS, ESTIMATORS, measure

# One desk, one service, every visit exactly 10 minutes (cv 0), about as many
# arrivals as the desk can serve: queues form, and nobody can jump ahead.
STEADY_DESK = """\
name: steady-desk
seed: 11
open_hours: 4
arrivals_stop_before_close: 30
handling_cv: 0.0
site_language: el
languages: {el: 1.0}
needs: {priority: 0.0, interpreter: 0.0}
services:
  registration: {prefix: A, mean: 10, target: 30, share: 1.0}
counters:
  desk-1: {services: [registration], languages: [el]}
arrivals_per_hour: [6, 6, 6, 6]
"""


def test_the_forecast_foresees_a_steady_desk_and_the_naive_estimate_does_not(live, tmp_path):
    scenario = tmp_path / "steady.yaml"
    scenario.write_text(STEADY_DESK, encoding="utf-8")
    report = measure(scenario, live, days=1)
    overall = report["groups"][ALL_STEPS]
    assert report["groups"]["registration"]["steps"] == overall["steps"] > 10
    assert overall["mean_wait"] > 5  # a real queue, not an idle desk
    for estimator in ESTIMATORS:
        assert overall[estimator]["unknown"] == 0, estimator
    tessera, naive = overall["tessera"], overall["naive"]
    # Known handling and strict arrival order: the forecast is off by its
    # rounding up to whole minutes only.
    assert tessera["mae"] <= 1 and tessera["within"] == 1
    assert 0 <= tessera["bias"] <= 1
    # The naive estimate does not count the visitor being served, so it is short.
    assert naive["bias"] < -1 and naive["mae"] > tessera["mae"] + 1
