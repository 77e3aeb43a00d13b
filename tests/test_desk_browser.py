"""The desk's safeguards in a real Chromium: confirmed no-show, undo, a chosen call, referral."""

import pytest

from tessera.staff.accounts import create_staff

from .helpers import PASSWORD, audit, read_pages_in

pytestmark = pytest.mark.browser


@pytest.fixture
def desk(live_server, database, site):
    """desk-1 opened by maria (municipality), and a signed-in page on its workstation."""

    def open_desk(page):
        with database.session() as session:
            maria, _ = create_staff(session, site.id, "maria", "Maria", "staff", ["el", "en"],
                                    ["municipality"], PASSWORD)
            maria_id = maria.id
        read_pages_in(database, "maria", "en")  # the checks below read English text
        live_server.engine.open_counter(site.counters["desk-1"], maria_id)
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Username").fill("maria")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/counter")
        page.goto(f"{live_server.url}/counter/{site.counters['desk-1']}")
        page.wait_for_function("() => window.io !== undefined")
        return page

    return open_desk


def test_a_no_show_asks_first_and_can_be_undone(live_server, site, desk, page, axe_script):
    engine = live_server.engine
    ticket = engine.issue_ticket(site.id, [site.services["registration"],
                                           site.services["legal_advice"]], "el")
    desk(page)
    page.locator("[data-action=call-next]:enabled").click()
    page.locator("[data-field=number]").filter(has_text=ticket.number).wait_for()

    page.locator("[data-action=no-show]:enabled").click()  # a click asks, as X does
    dialog = page.locator("[data-no-show-dialog]")
    dialog.wait_for(state="visible")
    assert ticket.number in dialog.inner_text()
    keep = dialog.locator("button[value=keep]")
    assert keep.is_visible()  # the journey has a further service: both choices
    assert audit(page, axe_script) == []
    dialog.locator("button[value='']").click()  # going back changes nothing
    assert engine.ticket_by_token(ticket.token).steps[0].state == "called"

    page.locator("[data-action=no-show]:enabled").wait_for()  # keys wait for the page
    page.keyboard.press("x")
    keep.click()
    page.locator("[data-field=number]").filter(has_text="\u2013").wait_for()
    steps = engine.ticket_by_token(ticket.token).steps
    assert [s.state for s in steps] == ["no_show", "waiting"]

    undo = page.locator("[data-action=undo]:enabled")
    undo.wait_for()
    assert ticket.number in undo.inner_text()
    undo.click()
    page.locator("[data-field=number]").filter(has_text=ticket.number).wait_for()
    assert [s.state for s in engine.ticket_by_token(ticket.token).steps] == ["called",
                                                                           "planned"]


def test_the_last_recall_warns_and_the_next_one_asks(live_server, site, desk, page):
    engine = live_server.engine
    ticket = engine.issue_ticket(site.id, [site.services["registration"]], "el")
    desk(page)
    page.locator("[data-action=call-next]:enabled").click()
    hint = page.locator("[data-field=recall-hint]")
    for _ in range(2):  # the small site allows two recalls
        page.locator("[data-action=recall]:enabled").click()
    page.wait_for_function(
        "() => document.querySelector('[data-field=recall-hint]').textContent"
        ".includes('no-show')")
    assert "next recall" in hint.inner_text()
    # A key pressed while the last answer is on its way is ignored, by design.
    page.locator("[data-action=recall]:enabled").wait_for()
    page.keyboard.press("r")
    dialog = page.locator("[data-no-show-dialog]")
    dialog.wait_for(state="visible")
    assert not dialog.locator("button[value=keep]").is_visible()  # nothing further to keep
    dialog.locator("button[value=cancel]").click()
    page.locator("[data-field=number]").filter(has_text="\u2013").wait_for()
    assert engine.ticket_by_token(ticket.token).steps[0].state == "no_show"


def test_a_chosen_ticket_is_called_with_a_reason(live_server, site, desk, page, axe_script):
    engine = live_server.engine
    engine.issue_ticket(site.id, [site.services["registration"]], "el")
    chosen = engine.issue_ticket(site.id, [site.services["certificates"]], "el")
    desk(page)
    page.get_by_role("button", name=f"Call {chosen.number}").click()
    dialog = page.locator("[data-call-dialog]")
    dialog.wait_for(state="visible")
    dialog.locator("button[value=call]").click()  # no reason yet
    dialog.get_by_role("alert").filter(has_text="why").wait_for()
    assert dialog.is_visible()
    assert audit(page, axe_script) == []
    dialog.get_by_label("Reason (no names)").fill("appointment overran")
    dialog.locator("button[value=call]").click()
    page.locator("[data-field=number]").filter(has_text=chosen.number).wait_for()

    # A referral needs a choice: the list starts empty and says so.
    page.locator("[data-refer] button:enabled").click()
    page.locator("[data-status]").filter(has_text="Choose a service").wait_for()
    assert engine.ticket_by_token(chosen.token).steps[0].state == "called"
