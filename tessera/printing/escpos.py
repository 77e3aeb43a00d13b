"""Sending a printout to any python-escpos printer, as ESC/POS.

Receipt printers know a few legacy code pages and no complex-text layout, so
each block of text goes one of two ways:

- Latin, Greek and Cyrillic text that one of the printer profile's code pages
  can encode is sent as text; python-escpos's magic encoder picks the code
  page and emits the `ESC t` switch.
- Anything else (Arabic and Farsi, which need shaping and right-to-left order;
  Tigrinya's Ethiopic script; any character no code page of the profile has)
  is laid out by tessera.printing.raster, wrapped to the paper width, and sent
  as a raster image.

python-escpos itself is imported inside the functions that use it, as in
tessera.printing.devices.
"""

import textwrap
import unicodedata

from tessera.printing.content import Block, Line, Printout
from tessera.printing.devices import paper_width
from tessera.printing.raster import (
    QR_MODULE_DOTS,
    is_letter,
    number_image,
    qr_image,
    render_block_image,
)

# The printer's own font grows at most this much for the ticket number (GS !).
MAX_NUMBER_MAGNIFICATION = 6
# Scripts a printer's code pages can carry as text; the rest is drawn.
TEXT_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")


def render_ticket(printer, printout: Printout) -> None:
    """Send a whole ticket to a python-escpos printer (any kind), ending with a cut.

    Blocks the printer can print as text go as text with the right code page;
    the rest as raster images (GS v 0) laid out with raqm.
    """
    width = paper_width(printer)
    printer.hw("INIT")
    # ESC @ resets the printer's code page; make the magic encoder switch again.
    printer.magic.encoding = None
    print_block(printer, printout.site_name)
    printer.ln()
    print_block(printer, printout.number_label)
    _print_number(printer, printout.number, width)
    printer.set(align="center")
    printer.textln(printout.issued_at)
    printer.ln()
    for section in printout.sections:
        print_block(printer, section)
        printer.ln()
    _print_qr(printer, printout.mobile_url, width)
    print_block(printer, printout.qr_caption)
    printer.cut()


def print_block(printer, block: Block) -> None:
    """Print one block: as text when the printer can, else as an image of the paper's width."""
    if block_prints_as_text(printer, block):
        columns = _columns(printer)
        for line in block.lines:
            printer.set(align="center" if line.centered else "left", bold=line.bold,
                        double_height=line.large, double_width=line.large,
                        normal_textsize=not line.large)
            width = columns // 2 if line.large else columns
            for part in textwrap.wrap(line.text, width) or [""]:
                printer.textln(part)
        printer.set(align="left", bold=False, normal_textsize=True)
        return
    printer.set(align="left")
    printer.image(render_block_image(block, paper_width(printer)))


def block_prints_as_text(printer, block: Block) -> bool:
    """Whether every character of a left-to-right block is Latin, Greek, Cyrillic
    or neutral, and some code page of the printer's profile has it."""
    if block.direction != "ltr":
        return False
    encoder = printer.magic.encoder
    code_pages = list(encoder.codepages)
    for line in block.lines:
        for character in line.text:
            if ord(character) < 128:
                continue
            if is_letter(character) and not unicodedata.name(character, "").startswith(
                    TEXT_SCRIPTS):
                return False
            if not any(encoder.can_encode(page, character) for page in code_pages):
                return False
    return True


def _columns(printer) -> int:
    from escpos.capabilities import NotSupported

    try:
        return printer.profile.get_columns("a")
    except (KeyError, NotSupported):  # a profile without font data: 80 mm paper, font A
        return 48


def _print_number(printer, number: str, width: int) -> None:
    if not block_prints_as_text(printer, Block("en", (Line(number),))):
        printer.set(align="left")
        printer.image(number_image(number, width))
        return
    # Font A is 12 dots wide: grow the number as much as the paper allows.
    character_dots = max(1, width // _columns(printer))
    magnification = max(1, min(MAX_NUMBER_MAGNIFICATION,
                               width // (character_dots * max(1, len(number)))))
    printer.set(align="center", bold=True, custom_size=True, width=magnification,
                height=magnification)
    printer.textln(number)
    printer.set(bold=False, normal_textsize=True)


def _print_qr(printer, url: str, width: int) -> None:
    from escpos.constants import QR_ECLEVEL_M

    if printer.profile.supports("qrCode"):
        # The printer draws its own QR code (GS ( k): sharp, and a few bytes only.
        printer.set(align="center")
        printer.qr(url, ec=QR_ECLEVEL_M, size=QR_MODULE_DOTS, native=True)
        printer.set(align="left")
    else:
        printer.set(align="left")
        printer.image(qr_image(url, width))

