"""Booked visits in the simulator: the appointments section, its sampling and its figures."""

import copy

import pytest
import yaml

from bench.appointments import build_variant, measure
from bench.appointments import render_table as bench_table
from bench.estimates import REFERENCE
from tessera.planning.day import ServedStep, WaitingStep, run_day
from tessera.planning.report import day_figures, render_table
from tessera.planning.routings import ScriptRouting
from tessera.planning.sampling import Visit, sample_bookings, sample_day
from tessera.planning.scenario import load_scenario
from tessera.planning.simulator import simulate
from tessera.queue.live import queue_key
from tessera.queue.routing import LONGEST_WAIT_FIRST, TESSERA

# Two desks, two services, two hours: small enough for a quick day.
SMALL = {
    "name": "small-booked", "seed": 11, "open_hours": 2, "arrivals_stop_before_close": 15,
    "handling_cv": 0.5, "site_language": "el", "languages": {"el": 0.6, "ar": 0.4},
    "services": {"registration": {"mean": 8, "target": 30, "share": 0.7},
                 "housing": {"mean": 12, "target": 45, "share": 0.3}},
    "counters": {"desk-1": {"services": ["registration", "housing"], "languages": ["ar"]},
                 "desk-2": {"services": ["registration"], "languages": []}},
    "arrivals_per_hour": [10, 8],
    "appointments": {"share": 0.3, "slot_minutes": 15, "punctuality": {"mean": 5, "spread": 4},
                     "no_show": 0.1},
}


def write(tmp_path, appointments="keep", name="scenario.yaml") -> str:
    """SMALL as a file; `appointments` replaces its section (None leaves it out)."""
    raw = copy.deepcopy(SMALL)
    if appointments is None:
        del raw["appointments"]
    elif appointments != "keep":
        raw["appointments"] = appointments
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return str(path)


# The format ---------------------------------------------------------------------


BAD_SECTIONS = {
    "not a mapping": ([0.2], "appointments must be a mapping"),
    "no share": ({"slot_minutes": 15}, "missing 'share'"),
    "no slot length": ({"share": 0.2}, "missing 'slot_minutes'"),
    "unknown setting": ({"share": 0.2, "slot_minutes": 15, "noshow": 0.1}, "unknown setting"),
    "share above 1": ({"share": 1.2, "slot_minutes": 15}, "at most 1"),
    "share of no service": ({"share": {"lawyers": 0.5}, "slot_minutes": 15}, "no such service"),
    "share not a number": ({"share": {"housing": "half"}, "slot_minutes": 15},
                           "appointments.share.housing must be a number"),
    "slot of 0": ({"share": 0.2, "slot_minutes": 0}, "greater than 0"),
    "slot longer than the day": ({"share": 0.2, "slot_minutes": 200}, "at most 105"),
    "punctuality not a mapping": ({"share": 0.2, "slot_minutes": 15, "punctuality": 5},
                                  "punctuality must be a mapping"),
    "negative spread": ({"share": 0.2, "slot_minutes": 15,
                         "punctuality": {"mean": 5, "spread": -1}}, "at least 0"),
    "no-show as yes": ({"share": 0.2, "slot_minutes": 15, "no_show": True}, "must be a number"),
}


@pytest.mark.parametrize("case", sorted(BAD_SECTIONS))
def test_bad_appointment_sections_are_refused(tmp_path, case):
    section, message = BAD_SECTIONS[case]
    with pytest.raises(ValueError, match=message):
        load_scenario(write(tmp_path, section))


def test_shares_per_service_and_times_in_seconds(tmp_path):
    booking = load_scenario(write(tmp_path, {"share": {"housing": 0.5}, "slot_minutes": 20,
                                             "punctuality": {"mean": -3}})).appointments
    assert booking.shares == {"registration": 0.0, "housing": 0.5}
    assert (booking.slot_seconds, booking.early_mean_seconds, booking.early_spread_seconds,
            booking.no_show) == (1200.0, -180.0, 0.0, 0.0)
    assert load_scenario(write(tmp_path, None)).appointments is None


# Sampling -----------------------------------------------------------------------


def test_the_same_seed_books_the_same_visits(tmp_path):
    scenario = load_scenario(write(tmp_path))
    assert sample_bookings(scenario, 0) == sample_bookings(scenario, 0)
    assert sample_bookings(scenario, 0) != sample_bookings(scenario, 1)


def test_booked_visits_arrive_by_their_slots(tmp_path):
    scenario = load_scenario(write(tmp_path, {"share": 0.5, "slot_minutes": 15,
                                              "punctuality": {"mean": 5, "spread": 0}}))
    walk_ins = {visit.visit_id: visit for visit in
                sample_day(load_scenario(write(tmp_path, None, "plain.yaml")), 0)}
    visits = sample_day(scenario, 0)
    booked = [visit for visit in visits if visit.appointment_due is not None]
    assert booked and len(booked) < len(visits) == len(walk_ins)
    for visit in booked:
        # On the slot grid, the last slot ending when arrivals stop (105 minutes)...
        assert visit.appointment_due % 900 == 0 and 0 <= visit.appointment_due <= 90 * 60
        # ...five minutes early, but never before opening.
        assert visit.arrived_at == max(0.0, visit.appointment_due - 300)
        # The rest of the visit is as drawn for the walk-in.
        assert visit.services == walk_ins[visit.visit_id].services
    assert [visit.arrived_at for visit in visits] == sorted(visit.arrived_at for visit in visits)


def test_a_larger_share_books_the_same_visits_and_more(tmp_path):
    def booked(share):
        scenario = load_scenario(write(tmp_path, {"share": share, "slot_minutes": 15}))
        return {visit.visit_id: visit.appointment_due for visit in sample_day(scenario, 0)
                if visit.appointment_due is not None}

    fewer, more = booked(0.2), booked(0.6)
    assert fewer and len(more) > len(fewer)
    assert fewer.items() <= more.items()


def test_no_shows_never_arrive(tmp_path, live):
    scenario = load_scenario(write(tmp_path, {"share": 0.5, "slot_minutes": 15,
                                              "no_show": 1.0}))
    everyone = sample_day(load_scenario(write(tmp_path, None, "plain.yaml")), 0)
    day = sample_bookings(scenario, 0)
    assert day.no_shows and all(visit.appointment_due is not None for visit in day.no_shows)
    assert all(visit.appointment_due is None for visit in day.visits)
    assert sorted(visit.visit_id for visit in day.visits + day.no_shows) == \
        [visit.visit_id for visit in everyone]
    report = simulate(write(tmp_path, {"share": 0.5, "slot_minutes": 15, "no_show": 1.0}),
                      live, days=1, policies=("tessera",))
    figures = report["policies"]["tessera"]
    assert figures["appointments"] == 0 and figures["no_shows"] == len(day.no_shows)
    assert figures["steps"] == sum(len(visit.services) for visit in day.visits)


def test_none_booked_is_the_day_without_the_section(tmp_path, live):
    without = write(tmp_path, None, "plain.yaml")
    unbooked = write(tmp_path, {"share": 0.0, "slot_minutes": 15,
                                "punctuality": {"mean": 5, "spread": 10}, "no_show": 0.5})
    for day in range(2):
        assert sample_day(load_scenario(unbooked), day) == \
            sample_day(load_scenario(without), day)
    plain = simulate(without, live, days=2)
    none_booked = simulate(unbooked, live, days=2)
    for policy, figures in plain["policies"].items():
        booked_figures = none_booked["policies"][policy]
        for key, value in figures.items():
            if key != "per_day":
                assert booked_figures[key] == value, (policy, key)
        assert "walk_in_mean_wait" not in figures
        assert booked_figures["walk_in_mean_wait"] == figures["mean_wait"]
        assert booked_figures["appointments_within_5"] is None
        assert booked_figures["appointments"] == booked_figures["no_shows"] == 0
    assert "Walk-in" not in render_table(plain) and "Walk-in" in render_table(none_booked)


# Routing ------------------------------------------------------------------------


def test_a_booked_step_carries_its_slot_and_goes_first_once_due(tmp_path, live):
    raw_path = write(tmp_path, None)
    scenario = load_scenario(raw_path)
    one_desk = scenario.counters[1:]  # desk-2: registration only
    # Desk busy until 1000 s; a walk-in waits from 10 s, a booked visitor from
    # 20 s for a slot at 900 s, so is due (within the window) when the desk frees.
    visits = [Visit(1, 0.0, "el", False, False, ("registration",), (1000.0,)),
              Visit(2, 10.0, "el", False, False, ("registration",), (300.0,)),
              Visit(3, 20.0, "el", False, False, ("registration",), (300.0,),
                    appointment_due=900.0)]
    opening = 3_000_000.0
    orders, booked = {}, {}
    for name, policy in (("tessera", TESSERA), ("longest_wait_first", LONGEST_WAIT_FIRST)):
        routing = ScriptRouting(scenario, one_desk, live, policy, opening)
        called = []
        members = {}

        def on_queued(now, step, routing=routing, members=members):
            key = queue_key(routing.site_id, scenario.services[step.service].service_id)
            members.update((member.decode(), score) for member, score in
                           live.redis.zrange(key, 0, -1, withscores=True))

        try:
            served = run_day(scenario, visits, routing, one_desk, on_queued=on_queued,
                             on_called=lambda now, step, called=called: called.append(
                                 step.visit.visit_id))
        finally:
            routing.close()
        orders[name] = called
        booked[name] = [step.late_after_slot_seconds for step in served if not step.walk_in]
        # The booked step's queue member ends in its slot, as epoch seconds.
        assert members[f"{3 * 8}|el||{opening + 900:.0f}"] == opening + 20
        assert f"{2 * 8}|el||0" in members
    assert orders["tessera"] == [1, 3, 2]
    assert orders["longest_wait_first"] == [1, 2, 3]
    # Timed from the later of slot (900 s) and arrival (20 s): called at 1000 s
    # by Tessera, at 1300 s, after the walk-in, by longest-wait-first.
    assert booked == {"tessera": [100.0], "longest_wait_first": [400.0]}


def test_a_referral_of_a_booked_visit_carries_no_slot():
    booked = Visit(1, 0.0, "el", False, False, ("registration", "housing"), (60.0, 60.0),
                   appointment_due=600.0)
    assert WaitingStep(booked, 0, 0.0).appointment_due == 600.0
    assert WaitingStep(booked, 1, 60.0).appointment_due is None


# Figures ------------------------------------------------------------------------


def served_step(waited, late=None):
    return ServedStep("registration", waited, True, True, True, walk_in=late is None,
                      late_after_slot_seconds=late)


def test_appointments_within_5_minutes_count_from_the_later_of_slot_and_arrival():
    served = [served_step(60.0), served_step(180.0), served_step(999.0, late=300.0),
              served_step(999.0, late=301.0), served_step(0.0, late=-120.0),
              served_step(999.0, late=0.0)]
    figures = day_figures(served, no_shows=2)
    assert figures["walk_in_mean_wait"] == 2.0  # minutes, walk-ins only
    assert figures["appointments"] == 4 and figures["no_shows"] == 2
    assert figures["appointments_within_5"] == 0.75
    assert "walk_in_mean_wait" not in day_figures(served)


def test_the_benchmark_compares_shares_and_policies(live):
    if not REFERENCE.exists():
        pytest.skip(f"reference scenario not found at {REFERENCE}")
    reports = measure(live, days=1)
    assert [report["booked"] for report in reports] == [0.0, 0.2, 0.4]
    none, _, most = reports
    assert set(most["policies"]) == {"tessera", "longest_wait_first"}
    assert none["policies"]["tessera"]["appointments_within_5"] is None
    # The boost is what calls appointments on time: longest-wait-first has none.
    assert (most["policies"]["tessera"]["appointments_within_5"]
            > most["policies"]["longest_wait_first"]["appointments_within_5"])
    table = bench_table(reports)
    assert "| 40% | tessera |" in table and "walk-in mean wait" in table
    assert build_variant({"name": "x"}, 0.2)["appointments"]["share"] == 0.2
