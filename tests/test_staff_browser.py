"""Counter, hall display and manager view in a real Chromium, together, as on a working day."""

import json

import pytest

from .helpers import (
    SCREENSHOTS,
    audit,
    keep_idle_away,
    pair_browser,
    sign_in_page,
)

pytestmark = pytest.mark.browser


def test_a_kiosk_ticket_is_called_and_announced_in_the_hall(live_server, site, accounts,
                                                            open_page):
    visitor = open_page()
    hall = open_page(viewport={"width": 1920, "height": 1080})
    desk = open_page()
    hall.goto(f"{live_server.url}/display/small")
    hall.wait_for_function("() => window.io !== undefined")

    pair_browser(visitor, live_server, "small")
    visitor.goto(f"{live_server.url}/kiosk/small/entrance/ar")
    keep_idle_away(visitor)
    visitor.get_by_text("التسجيل", exact=True).click()
    visitor.locator("button[type=submit]").click()
    visitor.wait_for_url("**/ticket/**")
    number = visitor.locator(".ticket-number").inner_text()

    sign_in_page(desk, live_server.url, "maria")
    desk.locator("form.desk-card").first.get_by_role("button").click()
    desk.wait_for_url("**/counter/*")
    desk.get_by_text(number).wait_for()  # in the waiting list, live
    desk.locator("[data-action=call-next]").click()
    desk.locator("[data-field=number]").filter(has_text=number).wait_for()

    hall.locator(".calls-table tr.newest").filter(has_text=number).wait_for(timeout=10000)
    hall.wait_for_function("() => window.tesseraAnnouncements.length >= 1", timeout=10000)
    announced = hall.evaluate("window.tesseraAnnouncements[0]")
    assert announced["ticket"] == number and announced["counter"] == "desk-1"

    # Keyboard: S starts serving, F finishes. (The desk speaks the site language.)
    labels = json.loads(desk.locator("[data-workstation]").get_attribute("data-state-labels"))
    desk.locator("[data-action=start]:enabled").wait_for()
    desk.keyboard.press("s")
    desk.locator("[data-field=state]").filter(has_text=labels["serving"]).wait_for()
    # The buttons stay disabled until the start request has come back.
    desk.locator("[data-action=finish]:enabled").wait_for()
    desk.keyboard.press("f")
    desk.locator("[data-field=number]").filter(has_text="\u2013").wait_for()  # en dash: empty


def test_a_display_announces_two_simultaneous_calls(live_server, site, page):
    engine = live_server.engine
    for _ in range(2):
        engine.issue_ticket(site.id, [site.services["registration"]], "el")
    page.goto(f"{live_server.url}/display/small")
    page.wait_for_function("() => window.io !== undefined")
    page.wait_for_timeout(500)  # joined its room
    for desk in ("desk-1", "desk-2"):
        engine.open_counter(site.counters[desk])
    engine.call_next(site.counters["desk-1"])
    engine.call_next(site.counters["desk-2"])
    page.wait_for_function("() => window.tesseraAnnouncements.length === 2", timeout=15000)
    tickets = page.evaluate("window.tesseraAnnouncements.map(a => a.ticket)")
    assert sorted(tickets) == ["A-001", "A-002"]
    spoken = page.evaluate("window.tesseraAnnouncements[0].spoken")
    # No voice is installed in this Chromium: the texts were prepared, chime and flash given.
    assert spoken and all(entry["text"] for entry in spoken)


def test_staff_pages_and_display_pass_the_audit(live_server, site, accounts, page,
                                                axe_script):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    engine = live_server.engine
    for language in ("ar", "en", "el"):
        engine.issue_ticket(site.id, [site.services["registration"]], language, ["priority"])
    engine.open_counter(site.counters["desk-2"])
    engine.call_next(site.counters["desk-2"])
    sign_in_page(page, live_server.url, "kostas")
    problems = {}
    for name, path in {"counter-choose": "/counter",
                       "counter": f"/counter/{site.counters['desk-2']}",
                       "manager": "/manager", "display": "/display/small",
                       "sign-in": "/login"}.items():
        if name == "sign-in":
            page.context.clear_cookies()
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
        problems[name] = audit(page, axe_script)
    assert problems == {name: [] for name in problems}


def test_an_older_answer_never_overwrites_a_newer_one(live_server, page):
    # latest.js, which every live page reads its state through: the first read's answer
    # arrives after the second's, as can happen when two events come close together.
    page.goto(f"{live_server.url}/login")
    shown = page.evaluate("""async () => {
        const { latest } = await import("/static/latest.js");
        const answers = [];
        window.fetch = () => new Promise((resolve) => answers.push(resolve));
        const shown = [];
        const read = latest("/anything", (body) => shown.push(body.n));
        const first = read();
        const second = read();
        answers[1]({ ok: true, json: async () => ({ n: 2 }) });
        await second;
        answers[0]({ ok: true, json: async () => ({ n: 1 }) });
        await first;
        return shown;
    }""")
    assert shown == [2]
