"""The hall display in a real Chromium at 1920x1080: its announcements, type, flash, direction."""

import pytest

from .helpers import SCREENSHOTS, audit, read_pages_in, sign_in_page

pytestmark = pytest.mark.browser

FULL_HD = {"width": 1920, "height": 1080}
# Every media element's play and end, in order (media events do not bubble: captured).
MEDIA_LOG = """window.mediaLog = [];
for (const type of ["play", "ended", "error"]) {
  document.addEventListener(type, (event) => window.mediaLog.push(
    [type, decodeURIComponent(new URL(event.target.currentSrc || "x:", location).pathname)]), true);
}"""


@pytest.fixture(autouse=True)
def announcement_folders(tmp_path, monkeypatch):
    """The live server renders into the test's own cache."""
    monkeypatch.setenv("ANNOUNCEMENT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("VOICE_PACKS", str(tmp_path / "packs"))


def open_hall(open_page, live_server, path="/display/small", touch=True, clock=False):
    """The display at 1920x1080, joined to its room; touched once, as staff do at start."""
    hall = open_page(viewport=FULL_HD)
    hall.add_init_script(MEDIA_LOG)
    if clock:
        hall.clock.install()
    hall.goto(live_server.url + path)
    hall.wait_for_function("() => window.io !== undefined")
    hall.wait_for_timeout(500)  # joined its room
    if touch:
        hall.mouse.click(5, 5)  # a user gesture: the browser then lets the page play sound
    return hall


def call(live_server, site, desk, language="el"):
    """Issue a ticket in `language` and call it at `desk`."""
    engine = live_server.engine
    engine.issue_ticket(site.id, [site.services["registration"]], language)
    engine.open_counter(site.counters[desk])
    return engine.call_next(site.counters[desk]).step


def test_two_calls_at_once_play_two_complete_announcements_in_order(live_server, site,
                                                                     open_page):
    hall = open_hall(open_page, live_server)
    engine = live_server.engine
    engine.issue_ticket(site.id, [site.services["registration"]], "en")
    engine.issue_ticket(site.id, [site.services["registration"]], "ar")
    for desk in ("desk-1", "desk-2"):
        engine.open_counter(site.counters[desk])
    engine.call_next(site.counters["desk-1"])  # A-001, English: desk 1 speaks it
    engine.call_next(site.counters["desk-2"])  # A-002, Arabic: desk 2 speaks it
    hall.wait_for_function(
        "() => window.mediaLog.filter(([type]) => type === 'ended').length === 4",
        timeout=60000)
    base = "/api/v1/sites/small/announcements"
    expected = []
    for path in (f"{base}/en/A-001/desk-1", f"{base}/el/A-001/desk-1",
                 f"{base}/ar/A-002/desk-2", f"{base}/el/A-002/desk-2"):
        expected += [["play", path], ["ended", path]]
    # Each file plays to its end before the next starts: nothing cut off, nothing overlaps.
    assert hall.evaluate("window.mediaLog") == expected
    records = hall.evaluate("window.tesseraAnnouncements")
    assert [r["ticket"] for r in records] == ["A-001", "A-002"]
    assert all(entry["played"] for r in records for entry in r["spoken"])


def test_a_language_without_a_voice_hears_the_site_language(live_server, site, open_page,
                                                            database, monkeypatch):
    # Arabic "has no voice" here: its visitors get the chime, the call, and Greek.
    monkeypatch.setattr("tessera.voice.espeak_voice",
                        lambda language: None if language == "ar" else language)
    hall = open_hall(open_page, live_server)
    call(live_server, site, "desk-2", "ar")
    hall.wait_for_function("() => window.mediaLog.some(([type]) => type === 'ended')",
                           timeout=30000)
    hall.wait_for_timeout(500)
    assert [path for type_, path in hall.evaluate("window.mediaLog") if type_ == "play"] == [
        "/api/v1/sites/small/announcements/el/A-001/desk-2"]
    assert hall.locator(".calls-table tr.newest").inner_text().startswith("A-001")


def test_a_blocked_sound_shows_a_warning(live_server, site, open_page):
    hall = open_hall(open_page, live_server, touch=False)
    # As Chromium does without a touch or --autoplay-policy=no-user-gesture-required.
    hall.evaluate("""() => { HTMLMediaElement.prototype.play = () =>
        Promise.reject(new DOMException("autoplay", "NotAllowedError")); }""")
    call(live_server, site, "desk-1")
    warning = hall.locator("[data-sound-blocked]")
    warning.wait_for(state="visible", timeout=15000)
    # The small centre's display speaks Greek first.
    assert "Αγγίξτε την μία φορά" in warning.inner_text()
    hall.mouse.click(5, 5)
    warning.wait_for(state="hidden")


def test_the_type_is_readable_across_the_hall(live_server, site, open_page):
    hall = open_hall(open_page, live_server)
    for desk in ("desk-1", "desk-2"):
        call(live_server, site, desk)
    hall.locator(".calls-table tbody tr").nth(1).wait_for()
    sizes = hall.evaluate("""() => {
      const size = (selector) => parseFloat(getComputedStyle(
        document.querySelector(selector)).fontSize);
      const screen = document.querySelector(".hall-screen").getBoundingClientRect();
      return {newest: size(".calls-table tr.newest td"),
              older: size(".calls-table tr:not(.newest) td"),
              waiting: size(".wait-count"), label: size(".wait-label"),
              height: screen.height, scrolls: document.documentElement.scrollHeight > innerHeight};
    }""")
    # 1080 px high: the newest call 14vh, older calls 7.5vh, the waiting counts 4.6vh.
    assert sizes["newest"] >= 150 and sizes["older"] >= 80
    assert sizes["waiting"] >= 48 and sizes["label"] >= 36
    assert sizes["height"] == 1080 and not sizes["scrolls"]  # the whole screen, no more
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    hall.screenshot(path=SCREENSHOTS / "display-calling.png")


def test_the_idle_display_fills_the_screen(live_server, site, open_page):
    hall = open_hall(open_page, live_server)
    hall.locator(".waits-list li").first.wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    hall.screenshot(path=SCREENSHOTS / "display-idle.png")


CONTRAST = """() => {
  const channel = (c) => { c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const luminance = (rgb) => { const [r, g, b] = rgb.match(/[\\d.]+/g).map(Number);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b); };
  const opaque = (element) => {  // the first background that is painted, up the tree
    for (let e = element; e; e = e.parentElement) {
      const background = getComputedStyle(e).backgroundColor;
      const parts = background.match(/[\\d.]+/g).map(Number);
      if (parts.length === 3 || parts[3] > 0) return background;
    }
    return "rgb(255, 255, 255)";
  };
  const cell = document.querySelector(".calls-table tr.newest td");
  const a = luminance(getComputedStyle(cell).color), b = luminance(opaque(cell));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_the_flash_is_readable_at_every_instant(live_server, site, open_page):
    hall = open_hall(open_page, live_server)
    call(live_server, site, "desk-1")
    hall.locator(".calls-table tr.newest.flash").wait_for()
    ratios = []
    for _ in range(30):  # through the four seconds of flashing, and after
        ratios.append(hall.evaluate(CONTRAST))
        hall.wait_for_timeout(150)
    assert min(ratios) >= 4.5, ratios


def test_a_recall_updates_its_row_and_flashes_it_again(live_server, site, open_page):
    hall = open_hall(open_page, live_server)
    call(live_server, site, "desk-1")
    call(live_server, site, "desk-2")
    rows = hall.locator(".calls-table tbody tr")
    rows.nth(1).wait_for()
    live_server.engine.recall(site.counters["desk-1"])
    hall.wait_for_function("() => window.tesseraAnnouncements.length === 3", timeout=15000)
    assert [row.split("\t")[0] for row in rows.all_inner_texts()] == ["A-001", "A-002"]
    assert "flash" in rows.first.get_attribute("class")
    # And after a reload, which re-reads the calls: still one row per ticket.
    hall.reload()
    hall.locator(".calls-table tbody tr").nth(1).wait_for()
    hall.wait_for_timeout(500)
    assert rows.count() == 2


def test_rows_are_configurable(live_server, site, open_page):
    hall = open_hall(open_page, live_server, path="/display/small?rows=1")
    call(live_server, site, "desk-1")
    call(live_server, site, "desk-2")
    hall.wait_for_function("() => window.tesseraAnnouncements.length === 2", timeout=15000)
    assert hall.locator(".calls-table tbody tr").count() == 1


def shown_languages(hall, seconds):
    """The languages the fixed texts are shown in over `seconds` of the page's clock."""
    shown = []
    for _ in range(seconds):
        hall.clock.run_for(1000)
        language = hall.locator("#calls-title").get_attribute("lang")
        if language not in shown:
            shown.append(language)
    return shown


def test_only_the_site_language_and_the_called_ones_take_turns(live_server, site, open_page):
    hall = open_hall(open_page, live_server, clock=True)
    assert shown_languages(hall, 60) == ["el"]  # nobody called: Greek only, steady
    assert hall.locator("h1").inner_text() == "Μικρό Κέντρο"
    call(live_server, site, "desk-2", "ar")
    hall.locator(".calls-table tr.newest").wait_for()
    shown = shown_languages(hall, 30)
    assert shown == ["el", "ar"]  # the Arabic visitor's language joins; English does not
    hall.clock.run_for(1000)


def test_arabic_is_right_to_left_with_aligned_columns(live_server, site, open_page,
                                                      axe_script):
    hall = open_hall(open_page, live_server, clock=True)
    assert audit(hall, axe_script) == []
    call(live_server, site, "desk-2", "ar")
    hall.locator(".calls-table tr.newest").wait_for()
    for _ in range(13):
        hall.clock.run_for(1000)
    hall.wait_for_function("() => document.querySelector('#calls-title').lang === 'ar'")
    layout = hall.evaluate("""() => {
      const box = (e) => e.getBoundingClientRect();
      const heads = [...document.querySelectorAll(".calls-table th")].map(box);
      const cells = [...document.querySelectorAll(".calls-table tr.newest td")];
      return {direction: getComputedStyle(document.querySelector(".calls-table")).direction,
              right: heads.map((h, i) => [Math.round(h.right),
                Math.round(box(cells[i].firstElementChild).right)]),
              waitsDirection: getComputedStyle(document.querySelector(".waits-list")).direction,
              isolated: document.querySelectorAll(".waits-list li bdi").length,
              labels: [...document.querySelectorAll(".waits-list li:first-child .wait-label")]
                .map((e) => e.textContent)};
    }""")
    assert layout["direction"] == "rtl" and layout["waitsDirection"] == "rtl"
    # Each column's header and its cell's text start at the same right edge.
    for head_right, cell_right in layout["right"]:
        assert abs(head_right - cell_right) <= 40, layout["right"]
    assert layout["isolated"] >= 3 and all(layout["labels"])
    assert hall.locator("h1").get_attribute("lang") == "ar"
    hall.screenshot(path=SCREENSHOTS / "display-ar.png")
    assert audit(hall, axe_script) == []


# The manager's message line -------------------------------------------------------------

MESSAGE_LINE = """() => {
  const line = document.querySelector("[data-hall-message]");
  const style = getComputedStyle(line);
  return {text: line.textContent, visible: !line.hidden && line.offsetHeight > 0,
          size: parseFloat(style.fontSize), direction: style.direction,
          role: line.getAttribute("role"), live: line.getAttribute("aria-live"),
          dir: line.getAttribute("dir"),
          callsBelow: document.querySelector(".hall-calls").getBoundingClientRect().top
            >= line.getBoundingClientRect().bottom,
          height: document.querySelector(".hall-screen").getBoundingClientRect().height,
          scrolls: document.documentElement.scrollHeight > innerHeight};
}"""


def test_the_message_line_appears_live_on_every_display_and_goes_when_cleared(
        live_server, site, open_page, axe_script):
    from tessera.sites.hall_message import set_hall_message

    hall = open_hall(open_page, live_server, touch=False)
    upstairs = open_hall(open_page, live_server, path="/display/small/upstairs", touch=False)
    for display in (hall, upstairs):
        assert display.evaluate(MESSAGE_LINE)["visible"] is False
    call(live_server, site, "desk-1")
    hall.locator(".calls-table tr.newest").wait_for()

    set_hall_message(live_server.engine, site.id, "Desk 2 has <b>moved</b> upstairs today.")
    for display in (hall, upstairs):  # no reload: the hint makes them re-read the queues
        display.locator("[data-hall-message]").wait_for(state="visible", timeout=10000)
        line = display.evaluate(MESSAGE_LINE)
        assert line["text"] == "Desk 2 has <b>moved</b> upstairs today."  # as text, not HTML
        assert line["role"] == "status" and line["live"] == "polite" and line["dir"] == "auto"
        assert line["size"] >= 48 and line["callsBelow"]  # 4.6vh: 49 px at 1080 px
        assert line["height"] == 1080 and not line["scrolls"]
    assert hall.locator("[data-hall-message] b").count() == 0
    assert hall.locator(".calls-table tr.newest").inner_text().startswith("A-001")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    hall.screenshot(path=SCREENSHOTS / "display-message.png")
    assert audit(hall, axe_script) == []

    # In Arabic it runs right to left by itself, whatever language the screen shows.
    set_hall_message(live_server.engine, site.id, "المكتب ٢ انتقل إلى الطابق العلوي")
    hall.wait_for_function("() => document.querySelector('[data-hall-message]')"
                           ".textContent.startsWith('المكتب')", timeout=10000)
    assert hall.evaluate(MESSAGE_LINE)["direction"] == "rtl"

    set_hall_message(live_server.engine, site.id, "")
    for display in (hall, upstairs):
        display.locator("[data-hall-message]").wait_for(state="hidden", timeout=10000)
    # And a display that opens later shows what is set, from the page itself.
    set_hall_message(live_server.engine, site.id, "Closed at 14:00 today")
    later = open_hall(open_page, live_server, touch=False)
    assert later.evaluate(MESSAGE_LINE)["text"] == "Closed at 14:00 today"
    assert later.evaluate(MESSAGE_LINE)["visible"] is True


def test_a_manager_sets_and_clears_the_message_from_the_dashboard(live_server, site, accounts,
                                                                  open_page, axe_script,
                                                                  database):
    hall = open_hall(open_page, live_server, touch=False)
    read_pages_in(database, "kostas", "en")  # the texts below are the English ones
    manager = open_page()
    sign_in_page(manager, live_server.url, "kostas")
    manager.goto(f"{live_server.url}/manager")
    manager.wait_for_function("() => window.io !== undefined")
    manager.wait_for_load_state("networkidle")
    assert audit(manager, axe_script) == []
    form = manager.locator("[data-hall-message-form]")
    form.get_by_label("Message", exact=True).fill("  The legal desk is closed this afternoon.  ")
    form.get_by_role("button", name="Save").click()
    status = form.locator("[data-hall-message-status]")
    status.filter(has_text="Saved").wait_for(timeout=10000)
    assert form.get_by_label("Message", exact=True).input_value() == \
        "The legal desk is closed this afternoon."
    line = hall.locator("[data-hall-message]")
    line.filter(has_text="The legal desk is closed this afternoon.").wait_for(timeout=10000)

    form.get_by_role("button", name="Clear").click()
    status.filter(has_text="Cleared").wait_for(timeout=10000)
    assert form.get_by_label("Message", exact=True).input_value() == ""
    line.wait_for(state="hidden", timeout=10000)
