"""Checking in at the kiosk by scanning the appointment's QR code, in a real Chromium whose
camera is Chromium's fake device playing a video of that QR code (made here, per test).

Without a camera there is no scan button and typing works as before. Runs once, on SQLite:
what is checked here is the page, not the store.
"""

import datetime as dt
import json
import urllib.request

import pytest
import qrcode

from tessera.appointments.booking import book
from tessera.sites.loader import DEMO_SITE, load_site, read_site_file

from .conftest import CHROMIUM, CHROMIUM_FLAGS
from .helpers import audit, keep_idle_away, pair_browser

pytestmark = pytest.mark.browser

# 11:00 in Athens on the test clock's Monday.
SLOT = dt.datetime(2026, 11, 23, 9, 0)
VIDEO_WIDTH, VIDEO_HEIGHT = 640, 480
# Studio-range luma (the usual range of YUV video): black and white paper.
BLACK, WHITE, NEUTRAL_CHROMA = 16, 235, 128
# Every camera stream the page opened, so a test can see whether the camera still runs.
RECORD_STREAMS = """
window.openedStreams = [];
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await open(constraints);
    window.openedStreams.push(stream);
    return stream;
  };
}
"""
# Chromium on Linux has no BarcodeDetector: this one stands in for a browser's, reading
# the code it is given from any frame of the video, so the test sees the native path taken.
NATIVE_DETECTOR = """
window.detections = 0;
window.BarcodeDetector = class {
  static async getSupportedFormats() { return ["qr_code"]; }
  constructor(options) { this.formats = options.formats; }
  async detect(source) {
    window.detections += 1;
    return source.videoWidth > 0 ? [{ format: "qr_code", rawValue: "%s" }] : [];
  }
};
"""
LIVE_TRACKS = ("() => window.openedStreams.flatMap((stream) => stream.getTracks())"
               ".filter((track) => track.readyState === 'live').length")


def write_y4m(path, text: str | None, frames: int = 5) -> None:
    """A YUV4MPEG2 video (4:2:0) of a QR code of `text` on white, or plain white for None."""
    luma = bytearray([WHITE]) * (VIDEO_WIDTH * VIDEO_HEIGHT)
    if text is not None:
        code = qrcode.QRCode(border=4)
        code.add_data(text)
        code.make(fit=True)
        modules = code.get_matrix()  # rows of booleans, the quiet zone included
        scale = min(VIDEO_WIDTH, VIDEO_HEIGHT) // len(modules)
        left = (VIDEO_WIDTH - scale * len(modules)) // 2
        top = (VIDEO_HEIGHT - scale * len(modules)) // 2
        for row_index, row in enumerate(modules):
            line = bytearray([WHITE]) * VIDEO_WIDTH
            for column_index, dark in enumerate(row):
                if dark:
                    start = left + column_index * scale
                    line[start:start + scale] = bytes([BLACK]) * scale
            for offset in range(scale):
                at = (top + row_index * scale + offset) * VIDEO_WIDTH
                luma[at:at + VIDEO_WIDTH] = line
    chroma = bytes([NEUTRAL_CHROMA]) * ((VIDEO_WIDTH // 2) * (VIDEO_HEIGHT // 2))
    frame = b"FRAME\n" + bytes(luma) + chroma + chroma
    header = f"YUV4MPEG2 W{VIDEO_WIDTH} H{VIDEO_HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)


@pytest.fixture
def camera_page(browser, tmp_path):
    """A function that opens a page in a Chromium whose camera shows a QR code of `text`
    (with an init `script` of the test's, if any).

    A browser of its own: the fake camera's video is a launch option. Camera access is
    granted as on a kiosk set up for scanning; a script error fails the test.
    """
    launched, errors = [], []

    def open_one(text: str | None, script: str = ""):
        video = tmp_path / f"camera-{len(launched)}.y4m"
        write_y4m(video, text)
        chromium = browser.browser_type.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_FLAGS, "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-video-capture={video}"])
        launched.append(chromium)
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(RECORD_STREAMS + script)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        return page

    yield open_one
    for chromium in launched:
        chromium.close()
    assert errors == []


def booked(database, clock, start):
    """A legal-advice appointment at the demo centre, booked in Arabic."""
    with database.session() as session:
        load_site(session, read_site_file(DEMO_SITE))
        return book(session, "demo", "legal_advice", start, "ar", None, clock())


def manage_link(live_server, token: str) -> str:
    """The appointment's manage link as the booking confirmation's QR code holds it."""
    with urllib.request.urlopen(f"{live_server.url}/api/v1/appointments/{token}") as answer:
        return json.load(answer)["manage_url"]


def open_check_in(page, live_server, language: str):
    """The kiosk's check-in page, once scan.js has looked for a camera."""
    pair_browser(page, live_server, "demo")
    page.goto(f"{live_server.url}/kiosk/demo/entrance/{language}/appointment")
    keep_idle_away(page)
    page.locator("[data-scan][data-camera]").wait_for(state="attached")


def test_scan_the_manage_link_at_the_kiosk_in_arabic(live_server, database, clock, camera_page,
                                                     axe_script):
    live_server.engine.clock = clock
    appointment = booked(database, clock, SLOT)
    link = manage_link(live_server, appointment.token)
    assert link.endswith(f"/a/{appointment.token}")

    page = camera_page(link)
    open_check_in(page, live_server, "ar")
    assert page.locator("html").get_attribute("dir") == "rtl"
    scan = page.locator("[data-scan-button]")
    assert scan.is_visible()
    assert page.locator("[data-scan-video]").is_hidden()
    assert page.evaluate(LIVE_TRACKS) == 0  # no camera until the visitor asks for it
    assert audit(page, axe_script) == []

    # Too late: the same refusal as for the typed code, with the walk-in ticket offered.
    clock.now = SLOT + dt.timedelta(minutes=20)
    walk_in = page.locator("[data-walk-in]")
    scan.click()
    walk_in.wait_for(state="visible")
    assert page.locator("input[name=code]").input_value() == appointment.code
    refusal = page.locator("[data-form-status]").inner_text()
    assert page.evaluate(LIVE_TRACKS) == 0  # a code was read: the camera is off
    assert page.locator("[data-scan-video]").is_hidden()

    page.locator("input[name=code]").fill("")
    page.locator("input[name=code]").fill(appointment.code.lower())
    page.locator("button[type=submit]").click()
    page.wait_for_function("(before) => document.querySelector('[data-form-status]')"
                           ".textContent === before", arg=refusal)

    clock.now = SLOT - dt.timedelta(minutes=5)
    page.locator("input[name=code]").fill("")
    scan.click()
    page.wait_for_url("**/ticket/**")
    assert page.locator(".ticket-number").inner_text() == "G-001"


def test_a_scanned_bare_code_checks_in_too(live_server, database, clock, camera_page):
    live_server.engine.clock = clock
    appointment = booked(database, clock, SLOT)
    clock.now = SLOT - dt.timedelta(minutes=10)
    page = camera_page(appointment.code)
    open_check_in(page, live_server, "en")
    page.get_by_role("button", name="Scan the QR code").click()
    page.wait_for_url("**/ticket/**")
    assert page.locator(".ticket-number").inner_text() == "G-001"


def test_a_qr_code_that_is_no_appointment_is_refused(live_server, database, clock, camera_page):
    live_server.engine.clock = clock
    booked(database, clock, SLOT)
    page = camera_page(f"{live_server.url}/t/not-an-appointment")  # a walk-in ticket's QR code
    open_check_in(page, live_server, "en")
    page.get_by_role("button", name="Scan the QR code").click()
    page.get_by_text("This QR code is not an appointment. Please type the code.").wait_for()
    assert page.evaluate(LIVE_TRACKS) == 0
    assert page.locator("input[name=code]").input_value() == ""


def test_the_browsers_own_detector_is_used_where_there_is_one(live_server, database, clock,
                                                               camera_page):
    live_server.engine.clock = clock
    booked(database, clock, SLOT)
    page = camera_page(None, NATIVE_DETECTOR % "QQQQQQ")  # a code nobody booked
    open_check_in(page, live_server, "en")
    page.get_by_role("button", name="Scan the QR code").click()
    page.get_by_text("We do not know this code. Please check it and type it again.").wait_for()
    assert page.locator("input[name=code]").input_value() == "QQQQQQ"
    assert page.evaluate("window.detections") >= 1
    assert page.evaluate("typeof window.jsQR") == "undefined"  # the library was not needed
    assert page.evaluate(LIVE_TRACKS) == 0


def test_the_camera_stops_after_the_timeout(live_server, database, clock, camera_page,
                                            axe_script):
    live_server.app.config["KIOSK_SCAN_SECONDS"] = 3
    booked(database, clock, SLOT)
    page = camera_page(None)  # the camera sees no code
    open_check_in(page, live_server, "en")
    page.get_by_role("button", name="Scan the QR code").click()
    page.locator("[data-scan-video]").wait_for(state="visible")
    status = page.locator("[data-form-status]")
    assert status.inner_text().startswith("Scanning")
    assert page.evaluate(LIVE_TRACKS) == 1
    assert page.get_by_role("button", name="Stop the camera").is_visible()
    assert audit(page, axe_script) == []

    page.get_by_text("The camera is off. To scan again, press the button.").wait_for(timeout=10000)
    assert page.evaluate(LIVE_TRACKS) == 0
    assert page.locator("[data-scan-video]").is_hidden()
    assert page.get_by_role("button", name="Scan the QR code").is_visible()

    # The button stops it too, before the timeout.
    page.get_by_role("button", name="Scan the QR code").click()
    page.locator("[data-scan-video]").wait_for(state="visible")
    page.get_by_role("button", name="Stop the camera").click()
    assert page.evaluate(LIVE_TRACKS) == 0


def test_without_a_camera_there_is_no_scan_button_and_typing_works(live_server, database, clock,
                                                                   page):
    live_server.engine.clock = clock
    appointment = booked(database, clock, SLOT)
    clock.now = SLOT - dt.timedelta(minutes=10)
    open_check_in(page, live_server, "en")
    assert page.locator("[data-scan]").get_attribute("data-camera") == "no"
    assert page.locator("[data-scan]").is_hidden()
    page.locator("input[name=code]").fill(appointment.code)
    page.get_by_role("button", name="Check in").click()
    page.wait_for_url("**/ticket/**")
    assert page.locator(".ticket-number").inner_text() == "G-001"
