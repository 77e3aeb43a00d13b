"""The kiosk's ticket screen and the mobile ticket in Chromium: read-aloud from the server's
voices, the screen going back to the start, the leave button only when leaving is possible."""

import pytest

from .helpers import pair_browser

pytestmark = pytest.mark.browser

MEDIA_LOG = """window.mediaLog = [];
for (const type of ["play", "ended", "error"]) {
  document.addEventListener(type, (event) => window.mediaLog.push(
    [type, new URL(event.target.currentSrc || "x:", location).pathname]), true);
}"""


@pytest.fixture
def live_server_config():
    """The ticket screen's real, short time before it goes back to the start."""
    return {"KIOSK_TICKET_SECONDS": 3}


def ticket_screen(live_server, site, page, language="en"):
    """A ticket's confirmation screen at the kiosk; returns its token."""
    token = live_server.engine.issue_ticket(site.id, [site.services["registration"]],
                                            language).token
    pair_browser(page, live_server, "small")
    page.add_init_script(MEDIA_LOG)
    page.goto(f"{live_server.url}/kiosk/small/entrance/{language}/ticket/{token}")
    return token


def test_read_aloud_plays_the_server_s_voice(live_server, site, page, tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCEMENT_CACHE", str(tmp_path / "cache"))
    token = ticket_screen(live_server, site, page)
    page.locator("[data-countdown-keep]").click()  # keep the screen while it reads
    page.locator("[data-read-aloud]").click()
    page.wait_for_function("() => window.mediaLog.some(([type]) => type === 'ended')",
                           timeout=30000)
    assert page.evaluate("window.mediaLog") == [
        ["play", f"/api/v1/tickets/{token}/read-aloud"],
        ["ended", f"/api/v1/tickets/{token}/read-aloud"]]
    assert page.locator("[data-voice-status]").inner_text() == ""


def test_the_ticket_screen_goes_back_to_the_start_with_a_countdown(live_server, site, page):
    ticket_screen(live_server, site, page)
    countdown = page.locator("[data-countdown-text]")
    assert "3 seconds" in countdown.inner_text()
    assert page.locator(".ticket-qr svg").count() == 1
    page.wait_for_url(f"{live_server.url}/kiosk/small/entrance", timeout=10000)
    assert page.locator(".ticket-qr svg").count() == 0  # the QR code is gone


def test_the_ticket_screen_can_be_kept(live_server, site, page):
    ticket_screen(live_server, site, page)
    page.locator("[data-countdown-keep]").click()
    page.wait_for_timeout(4500)
    assert "/ticket/" in page.url and page.locator(".ticket-qr svg").count() == 1


def test_leaving_is_not_offered_on_an_ended_ticket(live_server, site, page):
    engine = live_server.engine
    token = engine.issue_ticket(site.id, [site.services["registration"]], "en").token
    engine.cancel(token)
    page.goto(f"{live_server.url}/t/{token}")
    page.locator("[data-field=state]").wait_for()
    assert not page.locator("[data-cancel]").is_visible()


def test_a_refused_leave_is_explained(live_server, site, page):
    engine = live_server.engine
    token = engine.issue_ticket(site.id, [site.services["registration"]], "en").token
    desk = site.counters["desk-1"]
    engine.open_counter(desk)
    page.goto(f"{live_server.url}/t/{token}")
    page.wait_for_function("() => window.io !== undefined")

    def served_while_asked(dialog):
        # While the visitor reads "Do you really want to leave?", the desk starts serving.
        engine.call_next(desk)
        engine.start(desk)
        dialog.accept()

    page.once("dialog", served_while_asked)
    page.locator("[data-cancel]").click()
    status = page.locator("[data-cancel-status]")
    status.filter(has_text="being served").wait_for(timeout=10000)
    page.locator("[data-cancel]").wait_for(state="hidden", timeout=10000)
