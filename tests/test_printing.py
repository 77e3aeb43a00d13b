"""Ticket printing: the bytes a printer gets, Arabic drawn as shaped right-to-left
images, and a print job that survives a dead printer and prints exactly once.

Real things only: python-escpos's Dummy printer records the exact ESC/POS
bytes; a file printer writes a real file; network printers are real TCP
sockets (a closed port, and a small fake printer that answers status
queries); the job runs in RQ's SimpleWorker on the test Redis and SQL.

The Arabic reference image is tests/data/arabic-section.png. After a
deliberate change of layout or fonts, look at the new rendering and rewrite
it with UPDATE_REFERENCE_IMAGES=1.
"""
# Greek and Cyrillic letters that look Latin are the point of these tests.
# ruff: noqa: RUF001, RUF003

import datetime as dt
import os
import socket
import struct
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from PIL import Image, ImageChops, ImageDraw, ImageFont
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tessera.models import Device, Event, Service, Step, Ticket
from tessera.printing.content import (
    BRING,
    PEOPLE_AHEAD,
    SCAN_QR,
    YOUR_NUMBER,
    Block,
    Line,
    build_printout,
)
from tessera.printing.devices import printer_from_settings
from tessera.printing.escpos import block_prints_as_text, print_block, render_ticket
from tessera.printing.jobs import (
    PrintFailed,
    enqueue_print,
    print_job_id,
    print_queue,
)
from tessera.printing.preview import render_preview_png
from tessera.printing.raster import FONT_DIRECTORY, MARGIN, TEXT_SIZE, render_block_image
from worker.printing import print_ticket

from .helpers import closed_port, kiosk_headers, set_printer

DATA = Path(__file__).parent / "data"
ARABIC_REFERENCE = DATA / "arabic-section.png"
URL = "https://tessera.example/t/Zm9vYmFyYmF6cXV4cXV1eA"
ESC, GS = b"\x1b", b"\x1d"
INIT = ESC + b"@"
CUT = GS + b"V"
RASTER = GS + b"v0"
# The catalogues' words today, fixed here so the bytes and images do not change
# when a translator improves a string.
WORDS = {
    "en": {},
    "el": {BRING: "Φέρτε:", PEOPLE_AHEAD: "Άτομα πριν από εσάς", YOUR_NUMBER: "Ο αριθμός σας",
           SCAN_QR: "Σκανάρετε τον κωδικό."},
    "ar": {BRING: "أحضر معك:", PEOPLE_AHEAD: "الأشخاص قبلك", YOUR_NUMBER: "رقمك",
           SCAN_QR: "امسح هذا الرمز لتتابع دورك على هاتفك."},
}


def translate(language: str, message: str) -> str:
    """The ticket's strings in the three languages of the small centre."""
    return WORDS[language].get(message, message)


def issue(engine, site, *services, language="en"):
    """Issue a ticket at the small site for services given by key."""
    return engine.issue_ticket(site.id, [site.services[key] for key in services], language)


def printout_of(database, engine, ticket_id: int, url: str = URL):
    """Build a ticket's printout as the job does, with the fixed words above."""
    with database.session() as session:
        ticket = session.scalars(select(Ticket).options(
            selectinload(Ticket.steps).selectinload(Step.service).selectinload(Service.texts))
            .where(Ticket.id == ticket_id)).one()
        return build_printout(ticket, engine.position(ticket), url, translate)


def dummy(profile: str):
    """python-escpos's Dummy printer, which keeps every byte it is sent."""
    from escpos.printer import Dummy

    return Dummy(profile=profile)


def rasters(output: bytes) -> list[Image.Image]:
    """Every GS v 0 raster image in ESC/POS bytes, as black-on-white images."""
    images, start = [], 0
    while (found := output.find(RASTER, start)) != -1:
        width_bytes, height = struct.unpack("<HH", output[found + 4:found + 8])
        size = width_bytes * height
        data = output[found + 8:found + 8 + size]
        # A set bit is a dot of ink; in a mode "1" image a set bit is white.
        images.append(ImageChops.invert(Image.frombytes("1", (width_bytes * 8, height), data)
                                         .convert("L")))
        start = found + 8 + size
    return images


def text_parts(output: bytes) -> bytes:
    """The bytes outside raster images: commands and text."""
    parts, start = [], 0
    while (found := output.find(RASTER, start)) != -1:
        width_bytes, height = struct.unpack("<HH", output[found + 4:found + 8])
        parts.append(output[start:found])
        start = found + 8 + width_bytes * height
    parts.append(output[start:])
    return b"".join(parts)


def ink(image: Image.Image) -> set[tuple[int, int]]:
    """The dark pixels of an image."""
    grey = image.convert("L")
    width = grey.width
    return {(index % width, index // width) for index, value in enumerate(grey.tobytes())
            if value < 128}


def equal_fraction(first: Image.Image, second: Image.Image) -> float:
    """The share of pixels that are both ink or both paper (images padded to one size)."""
    width, height = max(first.width, second.width), max(first.height, second.height)
    total = width * height
    return 1 - len(ink(first) ^ ink(second)) / total


def ink_overlap(first: Image.Image, second: Image.Image) -> float:
    """Shared ink over all ink (intersection over union): 1.0 for the same drawing."""
    a, b = ink(first), ink(second)
    return len(a & b) / len(a | b)


def in_order(output: bytes, *pieces: bytes) -> bool:
    """Whether each piece occurs in the output after the one before it."""
    position = 0
    for piece in pieces:
        position = output.find(piece, position)
        if position == -1:
            return False
        position += len(piece)
    return True


# The printout on the printer ---------------------------------------------------

def test_english_ticket_bytes_are_text_with_greek_code_page_and_native_qr(engine, site, clock,
                                                                         database):
    issue(engine, site, "registration", language="el")
    clock.advance(minutes=1)
    ticket = issue(engine, site, "registration", "legal_advice", language="en")
    printer = dummy("TM-T20II")  # 80 mm, 576 dots, with Greek code pages

    render_ticket(printer, printout_of(database, engine, ticket.id))
    output = printer.output

    assert output.startswith(INIT)
    # Everything went as text: no raster image at all.
    assert RASTER not in output
    # The number in the printer's own font at 6x6 (GS ! 0x55), bold and centred.
    big_number = GS + b"!\x55" + ESC + b"E\x01" + ESC + b"a\x01" + b"A-002\n"
    # The QR code drawn by the printer: store the URL (GS ( k ... 1 P 0), then print it.
    url = URL.encode()
    qr_store = GS + b"(k" + struct.pack("<H", len(url) + 3) + b"1P0" + url
    qr_print = GS + b"(k\x03\x001Q0"
    greek = ESC + b"t\x0e"  # ESC t 14: code page 737, Greek
    assert in_order(
        output, INIT, b"Small Centre\n", b"Your number\n", big_number, b"2026-11-23 10:01\n",
        b"Registration\n", b"Bring: Passport\n", b"Legal advice\n", b"Bring: Your papers\n",
        b"People ahead of you: 1\n",
        greek + "Εγγραφή\n".encode("cp737"), "Φέρτε: Διαβατήριο\n".encode("cp737"),
        "Νομική συμβουλή\n".encode("cp737"), qr_store, qr_print,
        # Wrapped at the 48 columns of font A on this printer.
        b"Scan this code to follow your turn on your\nphone.\n", CUT)
    # The site-language part is for staff: the position is said once, in English.
    assert "Άτομα πριν".encode("cp737") not in output
    # Nothing but the number and the QR code identifies the visit.
    assert output.count(url) == 1 and output.count(b"A-002") == 1


def test_arabic_ticket_sends_arabic_as_a_shaped_right_to_left_image(engine, site, clock,
                                                                   database):
    for language in ("en", "el"):
        issue(engine, site, "registration", language=language)
        clock.advance(minutes=1)
    ticket = issue(engine, site, "registration", language="ar")
    printout = printout_of(database, engine, ticket.id)
    printer = dummy("TM-T20II")

    render_ticket(printer, printout)
    output = printer.output

    arabic_section, greek_section = printout.sections
    assert arabic_section.language == "ar" and greek_section.language == "el"
    assert not block_prints_as_text(printer, arabic_section)
    # No Arabic reaches the printer as text, in any code page (864 and 720 are Arabic).
    text = text_parts(output)
    assert ESC + b"t\x25" not in text and ESC + b"t\x20" not in text
    assert "التسجيل".encode("cp864", "replace") not in text
    # Three images: "your number", the Arabic section and the QR caption, each as
    # wide as the paper; the Greek section, the number and the QR code stay text.
    images = rasters(output)
    assert [image.width for image in images] == [576, 576, 576]
    # The Greek site name switched to code page 737 (ESC t 14); the Greek section reuses it.
    assert in_order(text, ESC + b"t\x0e" + "Μικρό Κέντρο\n".encode("cp737"), b"A-003\n",
                    "Εγγραφή\n".encode("cp737"), "Φέρτε: Διαβατήριο\n".encode("cp737"))
    section_image = images[1]
    assert ImageChops.difference(section_image.convert("L"),
                                 render_block_image(arabic_section, 576).convert("L")
                                 ).getbbox() is None

    if os.environ.get("UPDATE_REFERENCE_IMAGES"):
        DATA.mkdir(exist_ok=True)
        section_image.convert("1").save(ARABIC_REFERENCE)
    reference = Image.open(ARABIC_REFERENCE)
    assert reference.size == section_image.size
    assert equal_fraction(section_image, reference) >= 0.98
    assert ink_overlap(section_image, reference) >= 0.9

    # The same words without shaping or bidi (isolated letters, left to right)
    # must look clearly different: the comparison above can tell them apart.
    unshaped = unshaped_rendering(arabic_section, reference.size)
    assert ink_overlap(unshaped, reference) < 0.5
    assert ink_overlap(reference.transpose(Image.Transpose.FLIP_LEFT_RIGHT), reference) < 0.5


def unshaped_rendering(block: Block, size: tuple[int, int]) -> Image.Image:
    """Draw a block as a broken printer driver would: no shaping, no bidi, but on the
    same lines and right-aligned, so only the shaping and order differ."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    lines = iter(reference_line_tops(size[1], len(block.lines)))
    for line in block.lines:
        name = "NotoSansArabic-Bold.ttf" if line.bold else "NotoSansArabic-Regular.ttf"
        basic = ImageFont.truetype(str(FONT_DIRECTORY / name), TEXT_SIZE,
                                   layout_engine=ImageFont.Layout.BASIC)
        draw.text((size[0] - MARGIN, next(lines)), line.text, font=basic, fill=0, anchor="ra")
    return image


def reference_line_tops(height: int, count: int) -> list[int]:
    """Evenly spaced line tops over the image's height."""
    return [round(index * height / count) for index in range(count)]


def test_greek_becomes_an_image_where_the_profile_has_no_greek_but_russian_stays_text():
    # The TM-T88III (the small centre's kiosk) has code page 866 (Russian) and no Greek.
    printer = dummy("TM-T88III")
    russian = Block("ru", (Line("Регистрация"), Line("Возьмите с собой: паспорт")))
    greek = Block("el", (Line("Εγγραφή", bold=True), Line("Φέρτε: Διαβατήριο")))
    # Ukrainian і is not in 866 either: the whole block is drawn, not half-printed.
    ukrainian = Block("uk", (Line("Візьміть із собою: паспорт"),))

    for block in (russian, greek, ukrainian):
        print_block(printer, block)

    output = printer.output
    assert ESC + b"t\x11" + "Регистрация\n".encode("cp866") in output  # ESC t 17: 866
    assert "Возьмите с собой: паспорт\n".encode("cp866") in output
    images = rasters(output)
    assert len(images) == 2 and {image.width for image in images} == {512}  # its paper
    assert all(ink(image) for image in images)
    assert b"?" not in text_parts(output)  # no character replaced on the way


def test_text_that_no_code_page_has_is_drawn_not_replaced():
    printer = dummy("TM-T20II")
    # Georgian: a left-to-right script without a code page on this printer.
    assert not block_prints_as_text(printer, Block("en", (Line("Hello ქართული"),)))
    assert block_prints_as_text(printer, Block("fr", (Line("À apporter : passeport"),)))
    assert not block_prints_as_text(printer, Block("fa", (Line("3"),)))  # right to left


def test_tigrinya_is_drawn_in_the_ethiopic_font():
    block = Block("ti", (Line("ምዝገባ"),))
    drawn = render_block_image(block)
    # The same word in the Latin font is a row of "missing glyph" boxes.
    boxes = Image.new("L", drawn.size, 255)
    ImageDraw.Draw(boxes).text((MARGIN, 6), "ምዝገባ", fill=0, font=ImageFont.truetype(
        str(FONT_DIRECTORY / "NotoSans-Regular.ttf"), TEXT_SIZE,
        layout_engine=ImageFont.Layout.RAQM))
    assert ink(drawn) and ink_overlap(drawn, boxes) < 0.5


def test_long_lines_wrap_to_the_paper():
    words = "ثبت نام در شهرداری برای اقامت و کارت شناسایی جدید با مدارک لازم"
    one_line = render_block_image(Block("fa", (Line("ثبت نام"),)), 384)
    wrapped = render_block_image(Block("fa", (Line(words),)), 384)
    assert wrapped.width == 384 and wrapped.height >= 2.5 * one_line.height


def test_preview_png_draws_the_whole_ticket(engine, site, database, tmp_path):
    ticket = issue(engine, site, "registration", language="ar")
    path = render_preview_png(printout_of(database, engine, ticket.id),
                              tmp_path / "preview" / "ticket.png")
    image = Image.open(path)
    assert image.format == "PNG" and image.width == 576
    # Site name, label, number, date, two sections, QR code and caption: a long strip.
    assert image.height > 900
    assert len(ink(image)) > 20000


def test_the_ticket_strings_are_in_every_catalogue():
    translations = Path(__file__).parent.parent / "tessera" / "translations"
    for path in sorted(translations.glob("*/LC_MESSAGES/messages.po")):
        with path.open("rb") as file:
            catalogue = read_po(file)
        for message in (YOUR_NUMBER, PEOPLE_AHEAD, BRING, SCAN_QR):
            assert catalogue.get(message) is not None and catalogue.get(message).string, \
                (path.parent.parent.name, message)


# Printers from settings ---------------------------------------------------------

def test_printer_from_settings_for_every_type(tmp_path):
    from escpos.printer import CupsPrinter, Dummy, File, Network, Serial, Usb

    assert isinstance(printer_from_settings({"type": "dummy"}), Dummy)
    file_printer = printer_from_settings({"type": "file", "path": str(tmp_path / "out.bin"),
                                          "profile": "TM-T88III"})
    assert isinstance(file_printer, File) and file_printer.devfile == str(tmp_path / "out.bin")
    assert file_printer.profile.profile_data["media"]["width"]["pixels"] == 512
    network = printer_from_settings({"type": "network", "host": "192.0.2.7"})
    assert isinstance(network, Network) and (network.host, network.port) == ("192.0.2.7", 9100)
    network = printer_from_settings({"type": "network", "host": "192.0.2.7:9101"})
    assert (network.host, network.port) == ("192.0.2.7", 9101)
    for kind, settings, cls, package in (
            ("usb", {"vendor_id": "0x04b8", "product_id": 0x0202}, Usb, "pyusb"),
            ("serial", {"device": "/dev/ttyS0", "baudrate": 19200}, Serial, "pyserial"),
            ("cups", {"name": "tickets"}, CupsPrinter, "pycups")):
        if cls.is_usable():
            assert isinstance(printer_from_settings({"type": kind, **settings}), cls)
        else:  # optional packages: the error says which one to install
            with pytest.raises(RuntimeError, match=package):
                printer_from_settings({"type": kind, **settings})
    with pytest.raises(ValueError, match="Unknown printer type"):
        printer_from_settings({"type": "fax"})
    with pytest.raises(ValueError, match="profile"):
        printer_from_settings({"type": "dummy", "profile": "no-such-printer"})


# The print job --------------------------------------------------------------------

@pytest.fixture
def job_environment(monkeypatch, database_url, redis_url):
    """The environment the worker process has: the stores' URLs and the public URL."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("PUBLIC_URL", "https://tessera.example/")


def events(database, ticket_id: int) -> list[Event]:
    """A ticket's events, oldest first."""
    with database.session() as session:
        return list(session.scalars(select(Event).where(Event.ticket_id == ticket_id)
                                    .order_by(Event.id)))


def test_a_dead_printer_is_retried_and_the_ticket_printed_exactly_once(
        job_environment, engine, site, database, redis_client, live, tmp_path):
    ticket = issue(engine, site, "registration", language="ar")
    set_printer(database, {"type": "network", "host": "127.0.0.1", "port": closed_port(),
                           "profile": "TM-T88III"})
    queue = print_queue(redis_client)
    job = enqueue_print(queue, ticket.id, "entrance")
    assert enqueue_print(queue, ticket.id, "entrance").id == job.id == print_job_id(ticket.id)
    assert queue.count == 1  # a second enqueue is the same job
    worker = SimpleWorker([queue], connection=redis_client)

    worker.work(burst=True)

    job = Job.fetch(job.id, connection=redis_client)
    assert job.get_status() == "scheduled" and job.retries_left == 4
    assert live.printer_statuses("small")["entrance"]["status"] == "offline"
    failed = events(database, ticket.id)[-1]
    assert failed.kind == "print_failed" and failed.data["status"] == "offline"
    assert "127.0.0.1" in failed.data["error"]
    # The visit is not lost: in SQL, and still in its queue.
    assert [event.kind for event in events(database, ticket.id)] == \
        ["issued", "queued", "print_failed"]
    assert live.waiting_count("small", site.services["registration"]) == 1

    output = tmp_path / "printer" / "entrance.bin"
    set_printer(database, {"type": "file", "path": str(output), "preview": True,
                           "profile": "TM-T88III"})
    # Make the retry due now instead of in 5 seconds; the scheduler then queues it.
    queue.scheduled_job_registry.schedule(job, dt.datetime.now(dt.UTC))
    SimpleWorker([queue], connection=redis_client).work(burst=True, with_scheduler=True)

    assert Job.fetch(job.id, connection=redis_client).get_status() == "finished"
    printed = output.read_bytes()
    assert printed.count(INIT) == 1 and printed.count(CUT) == 1
    assert b"A-001" in printed and b"https://tessera.example/t/" + ticket.token.encode() in printed
    assert [event.kind for event in events(database, ticket.id)] == \
        ["issued", "queued", "print_failed", "printed"]
    status = live.printer_statuses("small")["entrance"]
    assert status["status"] == "ok" and status["at"].endswith("Z")
    preview = Image.open(tmp_path / "printer" / "2026-11-23-A-001.png")
    assert preview.width == 512  # as wide as this profile's paper

    # Run again (a late retry, a second enqueue after the job expired): nothing more.
    assert print_ticket(ticket.id, "entrance") == "already printed"
    assert output.read_bytes() == printed
    assert [event.kind for event in events(database, ticket.id)].count("printed") == 1


def test_the_job_raises_so_that_rq_retries(job_environment, engine, site, database,
                                           redis_client):
    ticket = issue(engine, site, "registration")
    set_printer(database, {"type": "network", "host": "127.0.0.1", "port": closed_port()})
    with pytest.raises(PrintFailed) as failure:
        print_ticket(ticket.id, "entrance")
    assert failure.value.status == "offline"
    assert [event.kind for event in events(database, ticket.id)][-1] == "print_failed"


class FakeNetworkPrinter:
    """A TCP printer on a local port that answers DLE EOT status queries and keeps
    what it is sent, one connection after another."""

    def __init__(self, paper: int):
        self.paper = paper  # the DLE EOT 4 answer: 0x12 paper present, 0x72 paper out
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.closed = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                connection, _address = self.server.accept()
            except OSError:
                return
            data = b""
            with connection:
                while chunk := connection.recv(65536):
                    data += chunk
                    if data.endswith(b"\x10\x04\x04"):
                        connection.sendall(bytes([self.paper]))
                    elif data.endswith(b"\x10\x04\x01"):
                        connection.sendall(b"\x16")  # online, no error
            self.received.append(data)
            self.closed.set()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def network_printer():
    """A fake network printer, out of paper until the test refills it."""
    printer = FakeNetworkPrinter(paper=0x72)
    yield printer
    printer.close()


def test_paper_out_is_reported_then_printed_when_refilled(
        job_environment, engine, site, database, live, network_printer):
    ticket = issue(engine, site, "registration")
    set_printer(database, {"type": "network", "host": f"127.0.0.1:{network_printer.port}",
                           "profile": "TM-T88III"})

    with pytest.raises(PrintFailed, match="paper"):
        print_ticket(ticket.id, "entrance")

    assert live.printer_statuses("small")["entrance"]["status"] == "paper_out"
    assert events(database, ticket.id)[-1].data["status"] == "paper_out"
    assert network_printer.closed.wait(5)
    assert b"A-001" not in network_printer.received[0]  # it asked, and printed nothing

    network_printer.paper = 0x12
    network_printer.closed.clear()
    assert print_ticket(ticket.id, "entrance") == "printed"
    assert network_printer.closed.wait(5)
    ticket_bytes = network_printer.received[1]
    assert ticket_bytes.startswith(b"\x10\x04\x04\x10\x04\x01" + INIT)
    assert b"A-001" in ticket_bytes and ticket_bytes.endswith(CUT + b"\x00")
    assert live.printer_statuses("small")["entrance"]["status"] == "ok"


def test_a_kiosk_without_a_printer_prints_nothing(job_environment, engine, site, database):
    ticket = issue(engine, site, "registration")
    with database.session() as session:
        kiosk = session.scalars(select(Device).where(Device.key == "entrance")).one()
        kiosk.settings = {}
    assert print_ticket(ticket.id, "entrance") == "no printer"
    assert print_ticket(ticket.id, "nowhere") == "no printer"
    assert [event.kind for event in events(database, ticket.id)] == ["issued", "queued"]


def test_the_small_centres_dummy_printer_prints(job_environment, engine, site, database,
                                                redis_client):
    ticket = issue(engine, site, "registration", language="ar")
    assert print_ticket(ticket.id, "entrance") == "printed"
    assert print_ticket(ticket.id, "entrance") == "already printed"
    assert [event.kind for event in events(database, ticket.id)].count("printed") == 1


def test_a_kiosk_ticket_is_committed_then_printed_by_the_worker(job_environment, make_client,
                                                                  site, database, redis_client,
                                                                  live, tmp_path):
    output = tmp_path / "entrance.bin"
    set_printer(database, {"type": "file", "path": str(output), "profile": "TM-T88III"})
    client = make_client(PUBLIC_URL="https://tessera.example/")
    queue = print_queue(redis_client)
    answer = client.post(f"/api/v1/sites/{site.id}/tickets",
                         json={"services": [site.services["registration"]], "language": "ar"},
                         headers={**kiosk_headers(client, site.id), "Idempotency-Key": "tap-1"})
    assert answer.status_code == 201
    with database.session() as session:
        ticket_id = session.scalars(select(Ticket.id).where(
            Ticket.token == answer.get_json()["token"])).one()
    assert queue.job_ids == [print_job_id(ticket_id)]
    # The visitor tapped twice: one ticket, one print job.
    again = client.post(f"/api/v1/sites/{site.id}/tickets",
                        json={"services": [site.services["registration"]], "language": "ar"},
                        headers={**kiosk_headers(client, site.id), "Idempotency-Key": "tap-1"})
    assert again.get_json()["token"] == answer.get_json()["token"] and queue.count == 1
    # The screen's QR code and the paper's lead to the same address.
    mobile_url = answer.get_json()["mobile_url"]
    assert mobile_url == "https://tessera.example/t/" + answer.get_json()["token"]
    assert client.get(urlsplit(mobile_url).path).status_code == 200  # the page is there

    printer_url = f"/api/v1/sites/{site.id}/kiosks/entrance/printer?ticket="
    token = answer.get_json()["token"]
    assert client.get(printer_url + token).get_json()["ticket"] == "pending"

    SimpleWorker([queue], connection=redis_client).work(burst=True)

    assert mobile_url.encode() in output.read_bytes()
    assert client.get(printer_url + token).get_json()["ticket"] == "printed"
    assert client.get(printer_url + "no-such-ticket").status_code == 404

    assert [event.kind for event in events(database, ticket_id)] == \
        ["issued", "queued", "printed"]
    assert live.printer_statuses(site.id)["entrance"]["status"] == "ok"


def test_an_unknown_kiosk_issues_nothing(client, site, database, redis_client):
    answer = client.post(f"/api/v1/sites/{site.id}/tickets",
                         json={"services": [site.services["registration"]], "language": "en"},
                         headers={"X-Kiosk": "back-door"})
    assert answer.status_code == 404
    assert "back-door" in answer.get_json()["error"]["message"]
    with database.session() as session:
        assert session.scalars(select(Ticket)).first() is None
    assert print_queue(redis_client).count == 0


def test_a_ticket_issued_without_a_kiosk_is_not_printed(client, site, redis_client):
    answer = client.post(f"/api/v1/sites/{site.id}/tickets",
                         json={"services": [site.services["registration"]], "language": "en"})
    assert answer.status_code == 201
    assert print_queue(redis_client).count == 0
