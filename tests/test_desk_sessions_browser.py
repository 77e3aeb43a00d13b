"""Desk sessions in a real Chromium: changing desk, a closed tab, the manager's controls."""

import json
import time

import pytest

from tessera.models import Counter, CounterStatus
from tessera.staff.accounts import create_staff

from .helpers import PASSWORD, audit, read_pages_in, sign_in_page

pytestmark = pytest.mark.browser

# Short, so that a closed tab is noticed within the test.
ABSENT = 2


@pytest.fixture
def live_server_config():
    """The live server pauses desks absent for ABSENT seconds."""
    return {"DESK_ABSENT_SECONDS": ABSENT}


@pytest.fixture
def accounts(database, site):
    """A member of staff of the municipality and a manager."""
    with database.session() as session:
        create_staff(session, site.id, "maria", "Maria", "staff", ["en"], ["municipality"],
                     PASSWORD)
        create_staff(session, site.id, "kostas", "Kostas", "manager", ["el"], [], PASSWORD)
    for username in ("maria", "kostas"):
        read_pages_in(database, username, "en")  # the checks read English text


def status(database, counter_id) -> CounterStatus:
    """A desk's status in SQL."""
    with database.session() as session:
        return session.get(Counter, counter_id).status


def open_desk(page, counter_id):
    """Open a desk from the choose page, with its pre-ticked services and languages."""
    page.locator(f"form.desk-card:has(input[name=counter][value='{counter_id}'])"
                 ).get_by_role("button").click()
    page.wait_for_url(f"**/counter/{counter_id}")
    page.wait_for_function("() => window.io !== undefined")


def pause_absent(live_server):
    """What the scheduled job does, with the live server's setting."""
    return live_server.engine.pause_absent_desks(
        live_server.app.config["DESK_ABSENT_SECONDS"])


def test_changing_desk_and_closing_the_tab(live_server, site, accounts, database, open_page):
    desk_1, desk_2 = site.counters["desk-1"], site.counters["desk-2"]
    page = open_page()
    sign_in_page(page, live_server.url, "maria")
    form = page.locator(f"form.desk-card:has(input[name=counter][value='{desk_2}'])")
    # Only her language is ticked, not the desk's usual Greek and Arabic.
    assert form.locator("input[name=languages]:checked").evaluate_all(
        "boxes => boxes.map(box => box.value)") == ["en"]
    open_desk(page, desk_1)

    page.locator("header a[href$='/counter']").click()  # "Change desk", in the site language
    open_desk(page, desk_2)
    assert status(database, desk_1) == CounterStatus.CLOSED
    assert status(database, desk_2) == CounterStatus.OPEN

    # The open page keeps the desk attended, past the time that pauses an absent one.
    time.sleep(ABSENT + 1)
    assert pause_absent(live_server) == []
    page.close()
    time.sleep(ABSENT + 1)
    assert pause_absent(live_server) == [desk_2]
    assert status(database, desk_2) == CounterStatus.PAUSED


def test_a_manager_pauses_and_closes_a_desk(live_server, site, accounts, database, open_page,
                                            axe_script):
    desk_1 = site.counters["desk-1"]
    engine = live_server.engine
    engine.open_counter(desk_1)
    page = open_page()
    sign_in_page(page, live_server.url, "kostas")
    page.goto(f"{live_server.url}/manager")
    page.wait_for_function("() => window.io !== undefined")
    page.wait_for_load_state("networkidle")
    assert audit(page, axe_script) == []
    labels = json.loads(page.locator("[data-dashboard]").get_attribute("data-state-labels"))
    row = page.locator("[data-counters] tr").first
    row.locator("[data-desk-action=pause]").click()
    row.locator("td").nth(1).filter(has_text=labels["paused"]).wait_for()
    assert status(database, desk_1) == CounterStatus.PAUSED
    row.locator("[data-desk-action=close]").click()
    row.locator("td").nth(1).filter(has_text=labels["closed"]).wait_for()
    assert status(database, desk_1) == CounterStatus.CLOSED
    assert row.locator("[data-desk-action]:enabled").count() == 0
