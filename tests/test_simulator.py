"""The day simulator: figures on the reference day, determinism, bad files, exact small days."""

from pathlib import Path

import pytest

from tessera.planning.day import run_day
from tessera.planning.report import render_table
from tessera.planning.routings import MIN_REPOLL_SECONDS, FifoPerDesk, ScriptRouting
from tessera.planning.sampling import Visit, sample_day
from tessera.planning.scenario import load_scenario
from tessera.planning.simulator import POLICIES, simulate
from tessera.queue.routing import LONGEST_WAIT_FIRST, TESSERA

REFERENCE = Path(__file__).parent.parent.parent / "shared" / "scenarios" / "oss-reference.yaml"
def reference() -> str:
    """The reference day of ../shared/scenarios, read from there (never copied)."""
    if not REFERENCE.exists():
        pytest.skip(f"reference scenario not found at {REFERENCE}")
    return str(REFERENCE)


# A site of one or two desks and one service, in the reference file's form.
TINY = """\
name: tiny
seed: 7
open_hours: 8
arrivals_stop_before_close: 30
handling_cv: {cv}
site_language: el
languages: {languages}
needs: {{priority: 0.0, interpreter: 0.0}}
organisations: [municipality]
services:
  registration: {{org: municipality, prefix: A, mean: {mean}, target: 30, share: {share}}}
{more_services}
counters:
{counters}
arrivals_per_hour: [{rate}, {rate}, {rate}, {rate}, {rate}, {rate}, {rate}, {rate}]
"""
ONE_DESK = "  desk-1: {services: [registration], languages: [el]}"


def write_tiny(tmp_path, mean=10, cv=0.0, rate=6, counters=ONE_DESK, share=1.0,
               more_services="", languages="{el: 1.0}") -> str:
    """A scenario file of one service (registration), unless told more."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(mean=mean, cv=cv, rate=rate, counters=counters, share=share,
                                more_services=more_services, languages=languages),
                    encoding="utf-8")
    return str(path)


# The reference day ------------------------------------------------------------


def test_one_reference_day_under_every_policy(live):
    report = simulate(reference(), live, days=1)
    assert report["scenario"] == "oss-reference" and report["days"] == 1
    policies = report["policies"]
    assert set(policies) == set(POLICIES)
    # Every policy saw the same visitors, and served every step of them.
    steps = {figures["steps"] for figures in policies.values()}
    assert len(steps) == 1 and steps.pop() > 150
    for name, figures in policies.items():
        assert 0 <= figures["mean_wait"] <= figures["p90_wait"] <= figures["longest_wait"], name
        for share in ("within_target", "in_language", "in_language_coverable"):
            assert 0 <= figures[share] <= 1, (name, share)
        # A step served in its language was coverable, so the coverable share is the higher.
        assert figures["in_language_coverable"] >= figures["in_language"], name
        assert len(figures["per_day"]) == 1
    # Pooling every service at every desk is the bound skills-limited routing cannot beat.
    assert policies["pooled"]["mean_wait"] <= policies["longest_wait_first"]["mean_wait"]
    # Tessera's language rules do what they are for.
    assert (policies["tessera"]["in_language_coverable"]
            > policies["longest_wait_first"]["in_language_coverable"])
    # The throwaway sites are gone.
    assert list(live.redis.scan_iter(match="tessera:{sim-*")) == []
    table = render_table(report)
    for name in POLICIES:
        assert name in table
    assert "Mean wait" in table and "coverable" in table


@pytest.mark.slow
def test_same_seed_same_figures(live, tmp_path):
    path = write_tiny(tmp_path, mean=12, cv=0.7, rate=8,
                      counters=ONE_DESK + "\n  desk-2: {services: [registration], languages: [el]}")
    assert simulate(path, live, days=2) == simulate(path, live, days=2)
    reference_path = reference()
    first = simulate(reference_path, live, days=1)
    assert simulate(reference_path, live, days=1) == first


def test_days_differ_and_follow_the_seed():
    scenario = load_scenario(reference())
    assert sample_day(scenario, 0) == sample_day(scenario, 0)
    assert sample_day(scenario, 0) != sample_day(scenario, 1)
    visits = sample_day(scenario, 0)
    # Roughly the sum of the hourly rates, less the last half hour.
    assert 150 < len(visits) < 300
    assert all(0 <= visit.arrived_at < (8 * 60 - 30) * 60 for visit in visits)
    assert all(len(visit.services) == len(visit.handling_seconds) for visit in visits)


# Bad files ----------------------------------------------------------------------


REFERENCE_LINES = {
    "missing setting": ("arrivals_per_hour:", "# no rates", "missing setting"),
    "shares": ("  ar: 0.27", "  ar: 0.57", "must add up to 1"),
    "unknown service at a counter": ("desk-6: {services: [housing]", "desk-6: {services: [housin]",
                                     "no such service"),
    "rates per hour": ("[36, 40, 36, 32, 28, 24, 18, 10]", "[36, 40]", "one rate for each"),
    "negative handling": ("mean: 12, target: 30", "mean: -12, target: 30", "greater than 0"),
    "referral to nowhere": ("housing: {legal_advice: 0.10}", "housing: {lawyer: 0.10}",
                            "no such service"),
    "bad number": ("handling_cv: 0.7", "handling_cv: high", "must be a number"),
}


@pytest.mark.parametrize("case", sorted(REFERENCE_LINES))
def test_bad_scenario_files_are_refused(live, tmp_path, case):
    original, replacement, message = REFERENCE_LINES[case]
    text = Path(reference()).read_text(encoding="utf-8")
    assert original in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(original, replacement, 1), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        simulate(str(path), live, days=1)


def test_unreadable_or_malformed_files_and_bad_days(live, tmp_path):
    with pytest.raises(ValueError, match="cannot be read"):
        simulate(str(tmp_path / "absent.yaml"), live)
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        simulate(str(tmp_path / "broken.yaml"), live)
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="mapping"):
        simulate(str(tmp_path / "list.yaml"), live)
    with pytest.raises(ValueError, match="days"):
        simulate(write_tiny(tmp_path), live, days=0)


def test_a_service_nobody_serves_is_refused(tmp_path):
    housing = "  housing: {org: municipality, mean: 5, target: 9, share: 0.5}"
    with pytest.raises(ValueError, match="no counter serves housing"):
        load_scenario(write_tiny(tmp_path, share=0.5, more_services=housing))


# Small days with known answers ---------------------------------------------------


def test_visitors_further_apart_than_handling_never_wait(live, tmp_path):
    # One desk, handling 0.6 s exactly, some six visitors an hour: nobody queues.
    report = simulate(write_tiny(tmp_path, mean=0.01, cv=0.0, rate=6), live, days=3)
    for name, figures in report["policies"].items():
        assert figures["steps"] > 60, name
        assert figures["longest_wait"] < 0.02, name
        assert figures["within_target"] == 1.0 and figures["in_language"] == 1.0, name


def visit(visit_id, arrived_at, handling, services=("registration",), language="el"):
    return Visit(visit_id, arrived_at, language, False, False, tuple(services),
                 tuple([handling] * len(services)))


def routings(scenario, live):
    """Each way of routing a hand-made day, by name."""
    return {
        "fifo_per_desk": FifoPerDesk(scenario.counters),
        "longest_wait_first": ScriptRouting(scenario, scenario.counters, live,
                                            LONGEST_WAIT_FIRST, 1_000_000.0),
        "tessera": ScriptRouting(scenario, scenario.counters, live, TESSERA, 2_000_000.0),
    }


def test_a_queue_at_one_desk_waits_exactly(live, tmp_path):
    # Three visitors a minute apart, five minutes each: waits 0, 4 and 8 minutes.
    scenario = load_scenario(write_tiny(tmp_path, mean=5))
    visits = [visit(1, 0.0, 300.0), visit(2, 60.0, 300.0), visit(3, 120.0, 300.0)]
    for name, routing in routings(scenario, live).items():
        served = run_day(scenario, visits, routing, scenario.counters)
        routing.close()
        assert [step.waited_seconds for step in served] == [0.0, 240.0, 480.0], name


def test_a_referral_keeps_its_place_by_arrival_but_waits_from_its_referral(live, tmp_path):
    # Visit 1 (registration, then certificates) came before visit 2 (certificates).
    certificates = "  certificates: {org: municipality, mean: 10, target: 20, share: 0.0}"
    counters = "  desk-1: {services: [registration, certificates], languages: [el]}"
    path = write_tiny(tmp_path, counters=counters, more_services=certificates)
    scenario = load_scenario(path)
    visits = [visit(1, 0.0, 600.0, services=("registration", "certificates")),
              visit(2, 60.0, 600.0, services=("certificates",))]
    waits = {}
    for name, routing in routings(scenario, live).items():
        served = run_day(scenario, visits, routing, scenario.counters)
        routing.close()
        waits[name] = sorted((step.service, step.waited_seconds) for step in served)
    # FIFO: visit 2 joined the certificates queue first, at 60 s, and is called at 600 s.
    assert waits["fifo_per_desk"] == [("certificates", 540.0), ("certificates", 600.0),
                                      ("registration", 0.0)]
    # By arrival: visit 1's referral goes first, at once; visit 2 waits 60 s -> 1200 s.
    for name in ("longest_wait_first", "tessera"):
        assert waits[name] == [("certificates", 0.0), ("certificates", 1140.0),
                               ("registration", 0.0)], name


def test_tessera_holds_a_visitor_for_a_speaker_about_to_be_free(live, tmp_path):
    # Desk 1 speaks Greek, desk 2 Greek and Arabic; handling 200 s, the service's mean.
    counters = ONE_DESK + "\n  desk-2: {services: [registration], languages: [el, ar]}"
    scenario = load_scenario(write_tiny(tmp_path, mean=200 / 60, counters=counters,
                                        languages="{el: 0.5, ar: 0.5}"))
    # Visits 1 and 2 occupy both desks; desk 1 is free again at 100 s, desk 2 at 201 s.
    visits = [Visit(1, 0.0, "el", False, False, ("registration",), (100.0,)),
              Visit(2, 1.0, "el", False, False, ("registration",), (200.0,)),
              Visit(3, 150.0, "ar", False, False, ("registration",), (200.0,))]
    outcome = {}
    for name, routing in routings(scenario, live).items():
        if name == "fifo_per_desk":
            routing.close()
            continue
        served = run_day(scenario, visits, routing, scenario.counters)
        routing.close()
        outcome[name] = [(step.waited_seconds, step.in_language, step.coverable)
                         for step in served]
    # Longest wait first: desk 1 calls the Arabic speaker at once, without a shared language.
    assert outcome["longest_wait_first"][-1] == (0.0, False, True)
    # Tessera holds them 51 s for desk 2, which speaks Arabic.
    assert outcome["tessera"][-1] == (pytest.approx(51.0), True, True)


def test_fifo_lines_are_per_desk_while_the_script_shares_them(live, tmp_path):
    counters = ONE_DESK + "\n  desk-2: {services: [registration], languages: [el]}"
    scenario = load_scenario(write_tiny(tmp_path, counters=counters))
    visits = [visit(1, 0.0, 60.0), visit(2, 1.0, 600.0), visit(3, 2.0, 60.0),
              visit(4, 3.0, 60.0)]
    waits = {}
    for name, routing in routings(scenario, live).items():
        served = run_day(scenario, visits, routing, scenario.counters)
        routing.close()
        waits[name] = [step.waited_seconds for step in served]
    # Visitor 2 goes to idle desk 2, not behind visitor 1; visitor 4 joins desk 2's
    # shorter line and waits there for 598 s though desk 1 is free at 120 s.
    assert waits["fifo_per_desk"] == [0.0, 0.0, 58.0, 598.0]
    assert waits["longest_wait_first"] == [0.0, 0.0, 58.0, 117.0]


def test_a_hold_ends_when_the_speaker_runs_late(live, tmp_path):
    # As above, but desk 2 takes 2000 s over a visit expected to take 200 s.
    counters = ONE_DESK + "\n  desk-2: {services: [registration], languages: [el, ar]}"
    scenario = load_scenario(write_tiny(tmp_path, mean=200 / 60, counters=counters,
                                        languages="{el: 0.5, ar: 0.5}"))
    visits = [Visit(1, 0.0, "el", False, False, ("registration",), (100.0,)),
              Visit(2, 1.0, "el", False, False, ("registration",), (2000.0,)),
              Visit(3, 150.0, "ar", False, False, ("registration",), (200.0,))]
    routing = ScriptRouting(scenario, scenario.counters, live, TESSERA, 3_000_000.0)
    served = run_day(scenario, visits, routing, scenario.counters)
    routing.close()
    # Held at 150 s for desk 2, expected free at 201 s; desk 1 asks again then, and
    # once desk 2 is past its expected time nobody waits for it: desk 1 calls.
    waited, in_language = served[-1].waited_seconds, served[-1].in_language
    assert waited == pytest.approx(51.0 + MIN_REPOLL_SECONDS) and not in_language
