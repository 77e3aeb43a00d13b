"""The staffing plan: Erlang C against published values, the plan from the reference
scenario and from a hand-made history checked in the simulator, the CLI and the API."""

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tessera.planning.demand import demand_from_history, demand_from_scenario
from tessera.planning.erlang import desks_needed, erlang_c, mean_wait_minutes, service_level
from tessera.planning.scenario import load_scenario
from tessera.planning.staffing import ROW_FIELDS, Change, make_plan, plan_day, what_if

from .helpers import ROOT, sign_in

REFERENCE = ROOT.parent / "shared" / "scenarios" / "oss-reference.yaml"
DAY = dt.date(2026, 11, 23)


def reference() -> str:
    """The reference day of ../shared/scenarios, read from there (never copied)."""
    if not REFERENCE.exists():
        pytest.skip(f"reference scenario not found at {REFERENCE}")
    return str(REFERENCE)


def shortened(tmp_path: Path, hours: int = 3) -> str:
    """The reference scenario cut to its first `hours` hours, to keep the test fast."""
    import yaml

    document = yaml.safe_load(Path(reference()).read_text(encoding="utf-8"))
    document["open_hours"] = hours
    document["arrivals_per_hour"] = document["arrivals_per_hour"][:hours]
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return str(path)


# Published worked examples of Erlang C:
# - Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example"
#   (callcentrehelper.com): 100 calls in 30 minutes, 180 s handling (10 erlangs), target
#   20 s: 14 agents wait with probability 17.4%, 88.8% are answered within 20 s, mean
#   wait 7.8 s; 13 agents give 79.6%, so 14 are needed for 80/20.
# - Mitan Ltd / Westbay, "The Erlang-C formula" (mitan.co.uk/erlang/elgcmath.htm):
#   360 calls per half hour of 4 minutes with 55 agents (48 erlangs): the probability
#   of waiting is 23.9% and 84.6% are answered within 15 s.
# - The exact small case of any queueing text (e.g. Kleinrock, Queueing Systems I):
#   C(2 servers, 1 erlang) = 1/3, C(3, 2) = 4/9.
@pytest.mark.parametrize(("servers", "traffic", "waits"), [
    (14, 10.0, 0.1741), (13, 10.0, 0.2853), (55, 48.0, 0.2387),
    (2, 1.0, 1 / 3), (3, 2.0, 4 / 9), (1, 0.5, 0.5)])
def test_erlang_c_against_published_values(servers, traffic, waits):
    assert erlang_c(servers, traffic) == pytest.approx(waits, abs=5e-4)


def test_service_level_mean_wait_and_desks_needed_of_the_worked_examples():
    # 100 calls per half hour = 200 an hour, 3 minutes each, 20 seconds' target.
    assert service_level(14, 200, 3, 20 / 60) == pytest.approx(0.888, abs=1e-3)
    assert service_level(13, 200, 3, 20 / 60) == pytest.approx(0.796, abs=1e-3)
    assert mean_wait_minutes(14, 200, 3) * 60 == pytest.approx(7.8, abs=0.05)
    assert desks_needed(200, 3, 20 / 60, 0.8) == 14
    assert service_level(55, 720, 4, 15 / 60) == pytest.approx(0.846, abs=1e-3)
    assert desks_needed(0, 12, 30, 0.8) == 0
    assert desks_needed(0.1, 12, 30, 0.8) == 1
    assert erlang_c(5, 5.0) == 1.0 and service_level(5, 60, 5, 10) == 0.0
    assert math.isinf(mean_wait_minutes(2, 60, 2))
    with pytest.raises(ValueError):
        desks_needed(10, 5, 10, 1.0)


def test_the_plan_of_the_reference_day_meets_its_targets_in_simulation(tmp_path, live):
    scenario = load_scenario(shortened(tmp_path))
    plan = plan_day(demand_from_scenario(scenario), live, 0.8, days=1)
    assert plan.missing == []
    for service in scenario.services:
        steps = [step for step in plan.simulated.steps if step.service == service]
        if steps:
            assert sum(step.within_target for step in steps) / len(steps) >= 0.8, service
    # Registration: 36 visits an hour, 20% first asking for it, 25% of information's
    # 20% referred on: 9 steps an hour of 12 minutes, target 30 -> Erlang C says 3 desks.
    assert plan.demand.cells["registration", 0].arrivals_per_hour == pytest.approx(9.0)
    assert plan.erlang["registration", 0] == 3
    result = make_plan([plan.demand], live, 0.8)
    row = next(row for row in result["rows"] if row["service"] == "registration")
    assert list(row)[:len(ROW_FIELDS)] == list(ROW_FIELDS)
    assert (row["weekday"], row["hour"], row["desks_needed"]) == (0, 9, 3)
    hour = result["days"][0]["hours"][0]
    assert hour["languages"][0]["language"] == "ar" and hour["languages"][0]["covered"]


def test_a_what_if_changes_the_simulated_figures_side_by_side(tmp_path, live):
    plan = plan_day(demand_from_scenario(load_scenario(shortened(tmp_path, 2))), live, 0.8)
    # Every desk counted for registration at 9:00 and 10:00 goes (others serve it too).
    counted = [sum(desk.service == "registration" for desk in plan.desks[hour])
               for hour in (0, 1)]
    assert min(counted) >= 1
    fewer = what_if(plan, [Change("remove_desk", (9, 10), service="registration")
                           for _ in range(max(counted))], live)
    assert fewer["desks"]["changed"] == fewer["desks"]["current"] - sum(counted)
    assert len(fewer["problems"]) == 2 * max(counted) - sum(counted)
    registration = fewer["services"]["registration"]
    assert registration["changed"]["mean_wait_minutes"] > registration["current"][
        "mean_wait_minutes"]
    speaker = what_if(plan, [Change("add_language", (9, 10, 11), language="so")], live)
    assert speaker["problems"] == [{"hour": 11, "reason": "closed"}]
    assert speaker["changed"]["coverable_steps"] > speaker["current"]["coverable_steps"]
    with pytest.raises(ValueError):
        what_if(plan, [Change("add_desk", (9,), service="nothing")], live)


def make_history(engine, site, clock):
    """Monday 2026-11-23 from 10:00 Athens: six registrations 10 minutes apart, each
    served 8 minutes at desk 1, and one legal advice of 20 minutes at desk 3."""
    desk1, desk3 = site.counters["desk-1"], site.counters["desk-3"]
    engine.open_counter(desk1)
    engine.open_counter(desk3)
    registration = site.services["registration"]
    for _ in range(6):
        engine.issue_ticket(site.id, [registration], "el")
        clock.advance(minutes=1)
        engine.call_next(desk1)
        engine.start(desk1)
        clock.advance(minutes=8)
        engine.finish(desk1)
        clock.advance(minutes=1)
    engine.issue_ticket(site.id, [site.services["legal_advice"]], "ar")
    engine.call_next(desk3)
    engine.start(desk3)
    clock.advance(minutes=20)
    engine.finish(desk3)


def test_the_plan_from_a_sql_history(engine, site, clock, live):
    make_history(engine, site, clock)
    with engine.database.session() as session:
        demands = demand_from_history(session, site.id, DAY, DAY + dt.timedelta(days=6))
    assert [(demand.weekday, demand.opens_at) for demand in demands] == [(0, 10)]
    demand = demands[0]
    assert demand.cells["registration", 0].arrivals_per_hour == 6
    assert demand.cells["registration", 0].mean_handling_minutes == 8.0
    assert demand.cells["legal_advice", 1].arrivals_per_hour == 1
    assert demand.scenario.languages == pytest.approx({"el": 6 / 7, "ar": 1 / 7})
    result = make_plan(demands, live, 0.8)
    rows = {(row["service"], row["hour"]): row for row in result["rows"]}
    assert rows["registration", 10]["desks_needed"] >= 1
    assert rows["legal_advice", 11]["desks_needed"] == 1
    assert result["days"][0]["met"]


@pytest.fixture
def environment(tmp_path, redis_url):
    """A fresh installation's environment: its own SQLite file and instance folder."""
    return {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
            "REDIS_URL": redis_url, "TESSERA_INSTANCE": str(tmp_path / "instance")}


def test_the_cli_prints_rows_of_exactly_the_documented_fields(environment, tmp_path):
    path = shortened(tmp_path, 2)
    csv_path = tmp_path / "plan.csv"
    done = subprocess.run([sys.executable, "-m", "tessera", "plan", "--scenario", path,
                           "--json", "--csv", str(csv_path)], env=environment, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert rows and all(list(row) == list(ROW_FIELDS) for row in rows)
    assert {row["hour"] for row in rows} == {9, 10}
    assert csv_path.read_text().splitlines()[0] == ",".join(ROW_FIELDS)
    table = subprocess.run([sys.executable, "-m", "tessera", "plan", "--scenario", path],
                           env=environment, cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert table.returncode == 0 and "languages to cover" in table.stdout
    wrong = subprocess.run([sys.executable, "-m", "tessera", "plan"], env=environment,
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0 and "--scenario" in wrong.stderr


def test_the_api_gives_the_plan_to_managers_only(client, engine, site, clock, staff):
    make_history(engine, site, clock)
    url = f"/api/v1/sites/{site.id}/planning?from=2026-11-23&to=2026-11-29"
    assert client.get(url).status_code == 401
    sign_in(client, "maria")
    assert client.get(url).status_code == 403
    manager = client.application.test_client()
    sign_in(manager, "kostas")
    answer = manager.get(url)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["rows"] and all(set(row) == set(ROW_FIELDS) for row in body["rows"])
    assert body["days"][0]["weekday"] == 0
    download = manager.get(url + "&format=csv")
    assert download.mimetype == "text/csv"
    assert download.get_data(as_text=True).splitlines()[0] == ",".join(ROW_FIELDS)
    assert manager.get(url + "&share=1.5").get_json()["error"]["code"] == "invalid_share"
    assert manager.get(url + "&format=xlsx").status_code == 422
    reversed_range = manager.get(f"/api/v1/sites/{site.id}/planning?from=2026-11-29&to=2026-11-23")
    assert reversed_range.get_json()["error"]["code"] == "invalid_range"
