"""The language boost at a counter alone with its service (issue 8, point 8).

The tester's case: one desk on duty for registration, its staff speaking
English; an Arabic visitor with a priority need came first, an English one with
the same need two minutes later. Alone, the desk serves both whatever the
order, so the boost could only reorder them: by default (the README's rule) the
earlier visitor goes first. With a second desk on duty that lacks English, the
boost decides who serves whom, and applies. `language_boost_when_alone` is the
other rule, compared in BENCHMARKS.md, and gives the other order.
"""

from dataclasses import replace

import pytest

from bench.lone_desk import Called, Variant, build_variant, fairness
from tessera.planning.day import run_day
from tessera.planning.routings import ScriptRouting
from tessera.planning.sampling import Visit
from tessera.planning.scenario import load_scenario
from tessera.queue.engine import QueueEngine
from tessera.queue.routing import TESSERA

BOOST_WHEN_ALONE = replace(TESSERA, language_boost_when_alone=True)
APART_MINUTES = 2  # well within the language boost: only the boost can reorder the two


def test_the_readme_rule_is_the_default():
    assert TESSERA.language_boost_when_alone is False
    assert TESSERA.language_boost > APART_MINUTES * 60


# Through the live engine: SQL, Redis and the routing script -----------------------


def first_called(engine, site, colleague_languages=None):
    """Which visitor desk-1 (Greek and English) calls first: "ar" or "en".

    desk-2 (registration too) is on duty in `colleague_languages`, or closed when None.
    """
    registration = site.services["registration"]
    arabic = engine.issue_ticket(site.id, [registration], "ar", needs=["priority"])
    engine.clock.advance(minutes=APART_MINUTES)
    english = engine.issue_ticket(site.id, [registration], "en", needs=["priority"])
    engine.open_counter(site.counters["desk-1"], languages=["el", "en"])
    if colleague_languages is not None:
        engine.open_counter(site.counters["desk-2"], languages=colleague_languages)
    engine.clock.advance(minutes=1)
    ticket_id = engine.call_next(site.counters["desk-1"]).step.ticket_id
    return {arabic.id: "ar", english.id: "en"}[ticket_id]


def test_a_lone_desk_calls_the_earlier_visitor(engine, site):
    assert first_called(engine, site) == "ar"


def test_the_boost_applies_where_a_colleague_on_duty_lacks_the_language(engine, site):
    # desk-2 speaks neither English nor Arabic: nobody is held for it, and the
    # boost sends the English visitor to the desk that speaks English.
    assert first_called(engine, site, colleague_languages=["el"]) == "en"


def test_boosting_at_a_lone_desk_too_reorders_the_visitors(database, live, clock, site):
    engine = QueueEngine(database, live, clock=clock, policy=BOOST_WHEN_ALONE)
    assert first_called(engine, site) == "en"


# Through the simulator's ScriptRouting, on a hand-made day -----------------------


SCENARIO = """\
name: lone-desk
seed: 1
open_hours: 1
handling_cv: 0.0
site_language: el
languages: {{el: 0.4, ar: 0.3, en: 0.3}}
needs: {{priority: 0.1}}
services:
  registration: {{mean: 10, target: 30, share: 1.0}}
counters:
  desk-1: {{services: [registration], languages: [el, en]}}
{colleague}
arrivals_per_hour: [6]
"""


def simulated_order(live, tmp_path, policy, colleague: bool) -> list[str]:
    """The languages desk-1 calls, in order, once its first visitor leaves at 600 s.

    With `colleague`, desk-2 (Greek only) serves registration too, busy all along.
    """
    text = SCENARIO.format(
        colleague="  desk-2: {services: [registration], languages: [el]}" if colleague else "")
    path = tmp_path / "lone-desk.yaml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path)
    visits = [Visit(1, 0.0, "el", False, False, ("registration",), (600.0,)),
              Visit(3, 60.0, "ar", True, False, ("registration",), (600.0,)),
              Visit(4, 60.0 + APART_MINUTES * 60, "en", True, False, ("registration",),
                    (600.0,))]
    if colleague:
        visits.insert(1, Visit(2, 1.0, "el", False, False, ("registration",), (3000.0,)))
    order = []

    def called(_now, step):
        if step.visit.language != "el":
            order.append(step.visit.language)

    routing = ScriptRouting(scenario, scenario.counters, live, policy, 4_000_000.0)
    try:
        run_day(scenario, visits, routing, scenario.counters, on_called=called)
    finally:
        routing.close()
    return order


@pytest.mark.parametrize(("policy", "colleague", "order"), [
    (TESSERA, False, ["ar", "en"]),
    (BOOST_WHEN_ALONE, False, ["en", "ar"]),
    (TESSERA, True, ["en", "ar"]),
    (BOOST_WHEN_ALONE, True, ["en", "ar"]),
])
def test_the_simulator_decides_the_same(live, tmp_path, policy, colleague, order):
    assert simulated_order(live, tmp_path, policy, colleague) == order


# The benchmark's measures ----------------------------------------------------------


def test_an_order_inversion_is_a_later_arrival_called_first_while_the_earlier_waited():
    steps = [
        Called("registration", arrived_at=0, queued_at=0, called_at=500, priority=False),
        Called("registration", arrived_at=10, queued_at=10, called_at=400, priority=False),
        # Equal priority only: a priority visitor going ahead is the policy, not unfairness.
        Called("registration", arrived_at=20, queued_at=20, called_at=300, priority=True),
        # A referral waiting only since 450 was not passed by a call at 400.
        Called("legal_advice", arrived_at=0, queued_at=450, called_at=600, priority=False),
        Called("legal_advice", arrived_at=5, queued_at=5, called_at=400, priority=False),
    ]
    figures = fairness(steps, lone_services={"legal_advice"})
    assert figures == {"inversions": 1, "overtaken": 1 / 5, "inversions_at_lone_desks": 0}


def test_the_variants_leave_services_to_one_desk(tmp_path):
    reference = {
        "name": "r", "open_hours": 1, "arrivals_per_hour": [10],
        "services": {"a": {"mean": 6, "share": 0.5}, "b": {"mean": 6, "share": 0.5}},
        "counters": {"desk-1": {"services": ["a", "b"]}, "desk-2": {"services": ["a", "b"]}},
    }
    variant = build_variant(reference, Variant("v", one_desk_per_service=True))
    assert variant["counters"] == {"desk-1": {"services": ["a", "b"]}}
    # One desk now does the work of two: half the visitors keep it as busy.
    assert variant["arrivals_per_hour"] == [5.0]
    assert reference["counters"]["desk-2"] == {"services": ["a", "b"]}  # a copy was changed
