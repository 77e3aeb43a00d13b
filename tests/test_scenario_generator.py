"""The scenario generator: valid files in the issue's ranges, the same per seed, the CLI."""

import os
import subprocess
import sys
from dataclasses import replace

import pytest
import yaml

from tessera.planning.day import run_day
from tessera.planning.generator import (
    DESKS,
    LANGUAGES,
    LOAD,
    SERVICES,
    capacity_load,
    capacity_per_visitor,
    generate,
    generate_centre,
)
from tessera.planning.report import day_figures
from tessera.planning.routings import ScriptRouting
from tessera.planning.sampling import sample_day
from tessera.planning.scenario import load_scenario
from tessera.planning.simulator import DAY_ONE_OPENING
from tessera.queue.routing import LONGEST_WAIT_FIRST, TESSERA

from .helpers import ROOT

SEEDS = range(5)
CENTRES_PER_SEED = 12


@pytest.fixture(scope="module")
def centres(tmp_path_factory) -> list[tuple[dict, object]]:
    """(raw mapping, loaded scenario) of every centre of SEEDS, written and read back."""
    written = []
    for seed in SEEDS:
        folder = tmp_path_factory.mktemp(f"seed-{seed}")
        for path in generate(CENTRES_PER_SEED, seed, folder):
            written.append((yaml.safe_load(path.read_text(encoding="utf-8")),
                            load_scenario(path)))
    return written


def test_every_generated_file_loads_and_validates(centres):
    assert len(centres) == len(SEEDS) * CENTRES_PER_SEED
    names = {scenario.name for _, scenario in centres}
    assert len(names) == len(centres)  # one file per centre, none overwritten


def test_ranges_of_the_issue(centres):
    for raw, scenario in centres:
        assert DESKS[0] <= len(scenario.counters) <= DESKS[1]
        assert LANGUAGES[0] <= len(scenario.languages) <= LANGUAGES[1]
        assert SERVICES[0] <= len(scenario.services) <= SERVICES[1]
        assert scenario.site_language in scenario.languages
        # Skewed: the most common language at least half as common again as the rarest.
        assert max(scenario.languages.values()) >= 1.5 * min(scenario.languages.values())
        assert 0 < scenario.needs["priority"] <= 0.15
        # Rates are rounded to hundredths, so the load is within a hair of the range.
        assert LOAD[0] - 0.01 <= capacity_load(raw) <= LOAD[1] + 0.01
        for counter in scenario.counters:
            assert 1 <= len(counter.services) <= 4
    # Over many centres: services shared by desks, referral chains, booked visits.
    assert any(sum(name in counter.services for counter in scenario.counters) > 1
               for _, scenario in centres for name in scenario.services)
    assert sum(bool(scenario.referrals) for _, scenario in centres) > len(centres) * 0.8
    booked = [scenario for _, scenario in centres if scenario.appointments is not None]
    assert len(centres) * 0.25 < len(booked) < len(centres) * 0.75
    loads = [capacity_load(raw) for raw, _ in centres]
    assert min(loads) < 0.7 and max(loads) > 0.95


def test_referral_chains_end(centres):
    for _, scenario in centres:
        order = list(scenario.services)
        for source, targets in scenario.referrals.items():
            assert all(order.index(target) > order.index(source) for target in targets)
            assert sum(targets.values()) <= 0.45 + 1e-9


def test_deterministic_per_seed_and_independent_of_count(tmp_path):
    first = generate(3, 41, tmp_path / "a")
    again = generate(5, 41, tmp_path / "b")
    for one, other in zip(first, again, strict=False):
        assert one.read_text(encoding="utf-8") == other.read_text(encoding="utf-8")
    other_seed = generate(3, 42, tmp_path / "c")
    assert first[0].read_text(encoding="utf-8") != other_seed[0].read_text(encoding="utf-8")


def test_capacity_is_the_tightest_group_of_services():
    # Two desks; desk-1 alone serves a, both serve b. With a's work twice b's,
    # the bottleneck is a at one desk: 1 / 2 visitors a minute, over 2 desks.
    raw = {"services": {"a": {"mean": 2, "share": 1.0}, "b": {"mean": 1, "share": 0.0}},
           "referrals": {"a": {"b": 1.0}},
           "counters": {"desk-1": {"services": ["a", "b"]}, "desk-2": {"services": ["b"]}}}
    assert capacity_per_visitor(raw) == pytest.approx(0.5 / 2)


def test_refuses_a_count_below_one(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        generate(0, 1, tmp_path)


def test_cli_writes_files_that_load(tmp_path):
    folder = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "tessera", "scenarios", "generate", "--count", "3", "--seed", "7",
         "--out", str(folder)],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    paths = sorted(folder.glob("*.yaml"))
    assert [path.name for path in paths] == [f"centre-7-00{index}.yaml" for index in range(3)]
    assert result.stdout.count("desks") == 3
    for path in paths:
        load_scenario(path)
    assert yaml.safe_load(paths[0].read_text(encoding="utf-8")) == generate_centre(7, 0)


def test_a_short_day_on_generated_centres_runs(live, tmp_path):
    # Two hours of two centres, a small one and a booked one: the simulator and
    # the live routing script take every shape the generator writes.
    picked = []
    for index in range(40):
        raw = generate_centre(3, index)
        if (len(raw["counters"]) <= 6 and not picked) or (
                "appointments" in raw and len(picked) == 1):
            picked.append(raw)
        if len(picked) == 2:
            break
    assert len(picked) == 2
    for raw in picked:
        raw = raw | {"open_hours": 2, "arrivals_per_hour": raw["arrivals_per_hour"][:2],
                     "arrivals_stop_before_close": 15}
        path = tmp_path / f"{raw['name']}.yaml"
        path.write_text(yaml.safe_dump(raw), encoding="utf-8")
        scenario = load_scenario(path)
        visits = sample_day(scenario, 0)
        for policy in (TESSERA, LONGEST_WAIT_FIRST, replace(TESSERA, urgency_until=0)):
            routing = ScriptRouting(scenario, scenario.counters, live, policy, DAY_ONE_OPENING)
            try:
                served = run_day(scenario, visits, routing, scenario.counters)
            finally:
                routing.close()
            figures = day_figures(served)
            assert figures["steps"] == sum(len(visit.services) for visit in visits) > 0
