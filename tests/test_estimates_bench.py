"""The wait-estimates benchmark (bench/estimates.py) on a day whose waits can be foreseen."""

import pytest

from bench.estimates import (
    ALL_STEPS,
    ESTIMATORS,
    RATIO_TARGET,
    measure,
    measure_scenarios,
    render_centres,
)

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


# One desk, two services; every visitor registers, then is referred to certificates,
# and that step keeps the visit's arrival, so it goes ahead of the registrations
# waiting behind it. A forecast that expects no referral is short by a certificate
# per visitor ahead; one that learned the referral from past days is not.
REFERRAL_DESK = """\
name: referral-desk
seed: 5
open_hours: 3
arrivals_stop_before_close: 30
handling_cv: 0.0
site_language: el
languages: {el: 1.0}
needs: {priority: 0.0, interpreter: 0.0}
services:
  registration: {prefix: A, mean: 6, target: 90, share: 1.0}
  certificates: {prefix: B, mean: 6, target: 90, share: 0.0}
referrals:
  registration: {certificates: 1.0}
counters:
  desk-1: {services: [registration, certificates], languages: [el]}
arrivals_per_hour: [5, 5, 5]
"""


def test_referrals_learned_from_past_days_are_foreseen(live, tmp_path):
    scenario = tmp_path / "referral.yaml"
    scenario.write_text(REFERRAL_DESK, encoding="utf-8")
    blind = measure(scenario, live, days=1, history=0)["groups"]["registration"]["tessera"]
    learned = measure(scenario, live, days=1, history=5)["groups"]["registration"]["tessera"]
    assert blind["bias"] < -1.5  # the referrals overtake unforeseen
    assert abs(learned["bias"]) < abs(blind["bias"]) / 2
    assert learned["mae"] < blind["mae"] - 1


def test_several_scenarios_report_each_ratio_and_the_median(live, tmp_path):
    paths = []
    for name, text in (("steady", STEADY_DESK), ("referral", REFERRAL_DESK)):
        paths.append(tmp_path / f"{name}.yaml")
        paths[-1].write_text(text, encoding="utf-8")
    report = measure_scenarios(paths, live, days=1, history=2)
    assert [centre["centre"] for centre in report["centres"]] == ["steady-desk", "referral-desk"]
    for centre in report["centres"]:
        assert centre["ratio"] == pytest.approx(centre["tessera_mae"] / centre["naive_mae"],
                                                abs=1e-3)
    ratios = [centre["ratio"] for centre in report["centres"]]
    assert report["median"]["ratio"] == pytest.approx(sum(ratios) / 2, abs=1e-3)
    assert report["worst_ratio"] == max(ratios)
    assert report["centres_within_target"] == sum(r <= RATIO_TARGET for r in ratios)
    assert "Median over the centres: MAE ratio" in render_centres(report)
