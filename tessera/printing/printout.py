"""The printed ticket: what goes on it, and how it reaches any ESC/POS printer or a PNG.

A `Printout` is built from a committed ticket (`build_printout`) and holds only
what may be printed: the site's name, the ticket number, the services and what
to bring in the visitor's language and in the site language, the local date
and time of issue, the people ahead, and the mobile-ticket URL for the QR code.
Never a name or any other personal data (DESIGN.md, invariant 7).

`render_ticket` sends a printout to a python-escpos printer. Receipt printers
know a few legacy code pages and no complex-text layout, so each block of text
goes one of two ways:

- Latin, Greek and Cyrillic text that one of the printer profile's code pages
  can encode is sent as text; python-escpos's magic encoder picks the code
  page and emits the `ESC t` switch.
- Anything else (Arabic and Farsi, which need shaping and right-to-left order;
  Tigrinya's Ethiopic script; any character no code page of the profile has)
  is laid out with Pillow's raqm engine and the fonts shipped in
  tessera/static/fonts, wrapped to the paper width, and sent as a raster image.

`render_preview_png` draws the same printout as a PNG, all of it with Pillow,
so a file printer can show what the paper would look like.
"""

import datetime as dt
import functools
import logging
import textwrap
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import qrcode
from babel.support import Translations
from PIL import Image, ImageDraw, ImageFont, features

from tessera.clock import local_time
from tessera.languages import direction

# python-escpos is imported inside the functions that use it: importing it
# loads its printer database and writes a cache into a new temporary
# directory, which an importer of this module (the web app) need not pay for.

logger = logging.getLogger(__name__)

FONT_DIRECTORY = Path(__file__).parent.parent / "static" / "fonts"
TRANSLATION_DIRECTORY = Path(__file__).parent.parent / "translations"
# 80 mm paper at 203 dpi: the width when a printer profile does not know its own.
DEFAULT_PAPER_DOTS = 576
# Pixel sizes for text drawn as an image; 28 px is about the height of the
# printer's own font A (24 dots) plus room for Arabic's taller marks.
TEXT_SIZE = 28
LARGE_TEXT_SIZE = 36
NUMBER_SIZE = 150
LINE_GAP = 6
MARGIN = 8
QR_MODULE_DOTS = 8
# The printer's own font grows at most this much for the ticket number (GS !).
MAX_NUMBER_MAGNIFICATION = 6
# Scripts a printer's code pages can carry as text; the rest is drawn.
TEXT_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")
# How long a network printer may take to answer a status query (DLE EOT).
STATUS_TIMEOUT_SECONDS = 2


# Strings of the ticket, marked for pybabel (N_ is one of its default keywords);
# the kiosk's catalogues already translate them.
def N_(message: str) -> str:  # noqa: N802 - the name pybabel looks for
    """Mark a string for translation without translating it here."""
    return message


YOUR_NUMBER = N_("Your number")
PEOPLE_AHEAD = N_("People ahead of you")
BRING = N_("Bring:")
SCAN_QR = N_("Scan this code to follow your turn on your phone.")

# translate(language, message) -> the message in that language.
Translator = Callable[[str, str], str]


# The printout -----------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One paragraph of a block; wrapped to the paper when printed."""

    text: str
    bold: bool = False
    large: bool = False
    centered: bool = False


@dataclass(frozen=True)
class Block:
    """Lines in one language; printed as text or drawn as one image."""

    language: str
    lines: tuple[Line, ...]

    @property
    def direction(self) -> str:
        """'rtl' for Arabic, Farsi and other right-to-left languages, else 'ltr'."""
        return direction(self.language)


@dataclass(frozen=True)
class Printout:
    """Everything printed on one ticket, already in the right languages."""

    site_name: Block
    number_label: Block
    number: str
    issued_at: str  # local date and time of issue, e.g. "2026-11-23 10:00"
    sections: tuple[Block, ...]  # the visitor's language first, then the site's
    mobile_url: str
    qr_caption: Block


@functools.lru_cache(maxsize=32)
def _catalogue(language: str) -> Translations:
    # Compiled catalogues (make translations); without one the English text stays.
    return Translations.load(str(TRANSLATION_DIRECTORY), [language])


def catalogue_translator(language: str, message: str) -> str:
    """Translate one of the ticket's strings with the project's Babel catalogues."""
    return _catalogue(language).gettext(message)


def build_printout(ticket, people_ahead: int | None, mobile_url: str,
                   translate: Translator = catalogue_translator) -> Printout:
    """The printout of a committed ticket, in its visitor's language and the site's.

    `ticket` needs its site and its steps' services (with their texts) loaded.
    `people_ahead` is the visitor's position now (None: not waiting), and
    `mobile_url` the address of the mobile ticket page, for the QR code.
    """
    site = ticket.site
    visitor, local = ticket.language, site.language
    languages = [visitor] if visitor == local else [visitor, local]
    services = [step.service for step in sorted(ticket.steps, key=lambda step: step.position)]
    sections = []
    for language in languages:
        lines = []
        for service in services:
            text = service.text(language)
            lines.append(Line(text.name, bold=True))
            if text.what_to_bring:
                lines.append(Line(f"{translate(language, BRING)} {text.what_to_bring}"))
        # Only in the visitor's language: the site-language part is for staff.
        if language == visitor and people_ahead is not None:
            lines.append(Line(f"{translate(language, PEOPLE_AHEAD)}: {people_ahead}"))
        sections.append(Block(language, tuple(lines)))
    name_language = visitor if visitor in site.name else local
    issued = local_time(ticket.issued_at, site.timezone)
    return Printout(
        site_name=Block(name_language, (Line(site.name[name_language], bold=True, large=True,
                                             centered=True),)),
        number_label=Block(visitor, (Line(translate(visitor, YOUR_NUMBER), centered=True),)),
        number=ticket.number,
        issued_at=issued.strftime("%Y-%m-%d %H:%M"),
        sections=tuple(sections),
        mobile_url=mobile_url,
        qr_caption=Block(visitor, (Line(translate(visitor, SCAN_QR), centered=True),)),
    )


# Printers ---------------------------------------------------------------------

def printer_from_settings(settings: dict):
    """A python-escpos printer for a kiosk's printer settings (SCHEMA.md, `kiosks`).

    Types: file (path), network (host, port 9100, or host "name:port"), usb
    (vendor_id, product_id; numbers or strings such as "0x04b8"), serial (device,
    baudrate), cups (name) and dummy; each may name a python-escpos `profile`.
    The connection opens on first use (or `printer.open()`); nothing is sent here.
    Usb, serial and cups printers need pyusb, pyserial or pycups installed;
    without it this raises RuntimeError naming the package.
    """
    from escpos import printer as escpos_printers

    kind = settings.get("type")
    options = {"profile": _profile(settings.get("profile"))}
    timeout = float(settings.get("timeout", 10))
    if kind == "dummy":
        return escpos_printers.Dummy(**options)
    if kind == "file":
        return _appending_file_class()(devfile=str(settings["path"]), **options)
    if kind == "network":
        host, port = _host_and_port(str(settings["host"]), settings.get("port"))
        return escpos_printers.Network(host=host, port=port, timeout=timeout, **options)
    if kind == "usb":
        _require(escpos_printers.Usb, "pyusb")
        return escpos_printers.Usb(idVendor=_number(settings["vendor_id"]),
                                   idProduct=_number(settings["product_id"]),
                                   timeout=int(timeout * 1000), **options)
    if kind == "serial":
        _require(escpos_printers.Serial, "pyserial")
        return escpos_printers.Serial(devfile=str(settings["device"]),
                                      baudrate=int(settings.get("baudrate", 9600)),
                                      timeout=timeout, **options)
    if kind == "cups":
        _require(escpos_printers.CupsPrinter, "pycups")
        return escpos_printers.CupsPrinter(printer_name=str(settings["name"]), **options)
    raise ValueError(f"Unknown printer type {kind!r}: use file, network, usb, serial, cups "
                     "or dummy")


def _require(printer_class, package: str) -> None:
    # Checked before creating the printer: python-escpos's Usb without pyusb
    # raises again from __del__, where nobody can catch it.
    if not printer_class.is_usable():
        raise RuntimeError(f"A {printer_class.__name__} printer needs the Python package "
                           f"{package}: pip install {package}")


def _profile(name: str | None) -> str | None:
    """A known python-escpos profile name (None: its default); printers take the name."""
    from escpos.capabilities import CAPABILITIES

    if name is not None and name not in CAPABILITIES["profiles"]:
        raise ValueError(f"Unknown python-escpos printer profile {name!r}")
    return name


def _host_and_port(host: str, port) -> tuple[str, int]:
    if port is None and host.count(":") == 1:
        host, port = host.split(":")
    return host, int(port or 9100)


def _number(value) -> int:
    # YAML gives 0x04b8 as an int but "04b8" or "0x04b8" as a string; USB ids are hex.
    return value if isinstance(value, int) else int(str(value), 16)


@functools.cache
def _appending_file_class():
    from escpos.printer import File

    class AppendingFile(File):
        """A file printer that adds to its file, as paper piles up on a real printer.

        python-escpos's File truncates on open, so a second ticket would erase the
        first; appending keeps every ticket (and makes a double print visible).
        """

        def open(self, raise_not_found: bool = True) -> None:
            path = Path(self.devfile)
            # A demo's printer/ folder may not exist yet; a device's directory does.
            if not path.parts or path.parts[:2] != ("/", "dev"):
                path.parent.mkdir(parents=True, exist_ok=True)
            if self._device:
                self.close()
            try:
                self.device = open(path, "ab")  # noqa: SIM115 - closed by close()
            except OSError as error:
                self.device = None
                if raise_not_found:
                    from escpos.exceptions import DeviceNotFoundError

                    raise DeviceNotFoundError(f"Could not open {path}: {error}") from error

    return AppendingFile


def paper_width(printer) -> int:
    """The printable width in dots, from the printer's profile (576 if unknown)."""
    return _media_width(printer.profile.profile_data)


def profile_paper_width(profile: str | None) -> int:
    """The printable width in dots of a python-escpos profile, by name (576 if unknown)."""
    from escpos.capabilities import CAPABILITIES

    return _media_width(CAPABILITIES["profiles"].get(profile or "default", {}))


def _media_width(profile_data: dict) -> int:
    try:
        return int(profile_data["media"]["width"]["pixels"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_PAPER_DOTS


def printer_problem(printer) -> tuple[str, str] | None:
    """Ask a connected printer whether it can print: None, or (status, message).

    Status is 'paper_out' or 'offline'. Only connections that can read answer
    (network, usb, serial; cups through its queue state); a printer that does
    not answer the status query is taken as ready, since some network printers,
    forwarders and serial lines never answer.
    """
    from escpos.printer import CupsPrinter, Network

    if isinstance(printer, CupsPrinter):
        # python-escpos's paper status misreads CUPS's answer; the queue state is what CUPS knows.
        state = printer.printers.get(printer.printer_name, {}).get("printer-state")
        if state in (None, 5):
            return "offline", f"CUPS queue {printer.printer_name!r} is stopped or missing"
        return None
    if not _can_read(printer):
        return None
    from escpos.constants import RT_MASK_ONLINE, RT_STATUS_ONLINE

    previous_timeout = printer.device.gettimeout() if isinstance(printer, Network) else None
    try:
        if isinstance(printer, Network):
            printer.device.settimeout(STATUS_TIMEOUT_SECONDS)
        if printer.paper_status() == 0:
            return "paper_out", "The printer is out of paper"
        # Not is_online(): it takes a printer that does not answer (a serial line
        # without status) for an offline one, and then nothing would ever print.
        answer = printer.query_status(RT_STATUS_ONLINE)
        if answer and answer[0] & RT_MASK_ONLINE:
            return "offline", "The printer reports that it is offline (cover open or error)"
    except TimeoutError:
        logger.info("Printer did not answer the status query; printing anyway")
    finally:
        if isinstance(printer, Network) and printer.device:
            printer.device.settimeout(previous_timeout)
    return None


def _can_read(printer) -> bool:
    from escpos.printer import Network, Serial, Usb

    return isinstance(printer, Network | Serial | Usb)


# Rendering on a printer ---------------------------------------------------------

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
            if _is_letter(character) and not unicodedata.name(character, "").startswith(
                    TEXT_SCRIPTS):
                return False
            if not any(encoder.can_encode(page, character) for page in code_pages):
                return False
    return True


def _is_letter(character: str) -> bool:
    return unicodedata.category(character)[0] in "LM"


def _columns(printer) -> int:
    from escpos.capabilities import NotSupported

    try:
        return printer.profile.get_columns("a")
    except (KeyError, NotSupported):  # a profile without font data: 80 mm paper, font A
        return 48


def _print_number(printer, number: str, width: int) -> None:
    if not block_prints_as_text(printer, Block("en", (Line(number),))):
        printer.set(align="left")
        printer.image(_number_image(number, width))
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


# Drawing text with Pillow ------------------------------------------------------

FONT_FILES = {
    ("sans", False): "NotoSans-Regular.ttf",
    ("sans", True): "NotoSans-Bold.ttf",
    ("arabic", False): "NotoSansArabic-Regular.ttf",
    ("arabic", True): "NotoSansArabic-Bold.ttf",
    ("ethiopic", False): "NotoSansEthiopic-Regular.ttf",
    ("ethiopic", True): "NotoSansEthiopic-Bold.ttf",
}
FAMILIES = ("sans", "arabic", "ethiopic")


@functools.lru_cache(maxsize=64)
def font(family: str, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """One of the shipped Noto fonts, laid out by raqm (shaping and bidi)."""
    if not features.check_feature("raqm"):
        # Without raqm, Arabic comes out as unjoined letters in the wrong order.
        raise RuntimeError("Pillow was built without raqm (libraqm): it cannot lay out "
                           "Arabic, Farsi or Tigrinya text for the ticket printer")
    return ImageFont.truetype(str(FONT_DIRECTORY / FONT_FILES[(family, bold)]), size,
                              layout_engine=ImageFont.Layout.RAQM)


def _script_family(character: str) -> str | None:
    """The font family a letter's script needs; None for neutrals (spaces, digits, marks)."""
    code = ord(character)
    if (0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0x08A0 <= code <= 0x08FF
            or 0xFB50 <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF):
        return "arabic"
    if 0x1200 <= code <= 0x139F or 0x2D80 <= code <= 0x2DDF or 0xAB00 <= code <= 0xAB2F:
        return "ethiopic"
    if _is_letter(character):
        return "sans"
    return None


@functools.lru_cache(maxsize=4096)
def _has_glyph(family: str, character: str) -> bool:
    # Pillow does not expose a font's character map; a character the font lacks
    # is drawn as the same box as a private-use code point no Noto font has.
    sample = font(family, 20)
    drawn, missing = sample.getmask(character), sample.getmask("\U000f0000")
    return (drawn.size, bytes(drawn)) != (missing.size, bytes(missing))


def _is_right_to_left(character: str) -> bool:
    return unicodedata.bidirectional(character) in ("R", "AL")


@dataclass(frozen=True)
class _Run:
    text: str
    family: str

    @property
    def direction(self) -> str:
        return "rtl" if any(_is_right_to_left(c) for c in self.text) else "ltr"


def _runs(text: str) -> list[_Run]:
    """Split text where the font must change: each script's letters in its Noto font,
    neutrals (spaces, digits, punctuation) in the font around them when it has them."""
    runs: list[_Run] = []
    for character in text:
        family = _script_family(character)
        current = runs[-1].family if runs else None
        if family is None:
            preferred = [current] if current else []
            candidates = [*preferred, *(f for f in FAMILIES if f != current)]
            family = next((f for f in candidates if _has_glyph(f, character)), current or "sans")
        if runs and runs[-1].family == family:
            runs[-1] = _Run(runs[-1].text + character, family)
        else:
            runs.append(_Run(character, family))
    return runs


def _line_direction(text: str, block_direction: str) -> str:
    # A line with no right-to-left letter (a service name that fell back to the
    # site language) reads left to right even in an Arabic block.
    if block_direction == "rtl" and any(_is_right_to_left(c) for c in text):
        return "rtl"
    return "ltr"


class _LineLayout:
    """One wrapped line, measured: its runs in visual order and their widths."""

    def __init__(self, text: str, size: int, bold: bool, block_direction: str, language: str):
        self.text = text
        self.direction = _line_direction(text, block_direction)
        self.language = language
        runs = _runs(text)
        # Runs of different fonts are placed in reading order: right to left in
        # a right-to-left line; raqm orders the characters within each run.
        self.runs = list(reversed(runs)) if self.direction == "rtl" else runs
        self.fonts = [font(run.family, size, bold) for run in self.runs]
        self.widths = [f.getlength(run.text, direction=run.direction, language=language)
                       for run, f in zip(self.runs, self.fonts, strict=True)]
        metrics = [f.getmetrics() for f in self.fonts] or [font("sans", size, bold).getmetrics()]
        self.ascent = max(ascent for ascent, _ in metrics)
        self.height = self.ascent + max(descent for _, descent in metrics)

    @property
    def width(self) -> float:
        return sum(self.widths)

    def draw(self, draw: ImageDraw.ImageDraw, left: float, top: int) -> None:
        x = left
        for run, run_font, run_width in zip(self.runs, self.fonts, self.widths, strict=True):
            draw.text((x, top + self.ascent), run.text, font=run_font, fill=0, anchor="ls",
                      direction=run.direction, language=self.language)
            x += run_width


def _wrap(line: Line, size: int, block: Block, width: int) -> list[_LineLayout]:
    """Break a paragraph into lines that fit `width`, at spaces (inside long words if need be)."""
    def layout(text: str) -> _LineLayout:
        return _LineLayout(text, size, line.bold, block.direction, block.language)

    laid_out: list[_LineLayout] = []
    current = ""
    for word in line.text.split():
        candidate = f"{current} {word}" if current else word
        if layout(candidate).width <= width:
            current = candidate
            continue
        if current:
            laid_out.append(layout(current))
        current = word
        while layout(current).width > width and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and layout(current[:cut]).width > width:
                cut -= 1
            laid_out.append(layout(current[:cut]))
            current = current[cut:]
    laid_out.append(layout(current))
    return laid_out


def render_block_image(block: Block, width: int = DEFAULT_PAPER_DOTS) -> Image.Image:
    """Draw a block as a black-and-white image `width` dots wide, ready for printer.image().

    Text is shaped and ordered by raqm (right to left for Arabic and Farsi),
    each script in its Noto font, wrapped to the width, aligned to the
    block's reading side (or centred).
    """
    inner = width - 2 * MARGIN
    placed: list[tuple[_LineLayout, Line]] = []
    for line in block.lines:
        size = LARGE_TEXT_SIZE if line.large else TEXT_SIZE
        placed.extend((layout, line) for layout in _wrap(line, size, block, inner))
    height = sum(layout.height + LINE_GAP for layout, _ in placed) + LINE_GAP
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    top = LINE_GAP
    for layout, line in placed:
        if line.centered:
            left = (width - layout.width) / 2
        elif block.direction == "rtl":
            left = width - MARGIN - layout.width
        else:
            left = MARGIN
        layout.draw(draw, left, top)
        top += layout.height + LINE_GAP
    return _black_and_white(image)


def _black_and_white(image: Image.Image) -> Image.Image:
    # A hard threshold, not dithering: thermal dots are on or off, and grey
    # anti-aliased edges dithered into specks make small text harder to read.
    return image.point(lambda value: 255 if value >= 128 else 0).convert(
        "1", dither=Image.Dither.NONE)


def _number_image(number: str, width: int) -> Image.Image:
    size = NUMBER_SIZE
    number_font = font("sans", size, bold=True)
    while number_font.getlength(number) > width - 2 * MARGIN and size > 20:
        size -= 10
        number_font = font("sans", size, bold=True)
    _left, top, _right, bottom = number_font.getbbox(number, anchor="ls")
    image = Image.new("L", (width, bottom - top + 2 * MARGIN), 255)
    ImageDraw.Draw(image).text((width / 2, MARGIN - top), number, font=number_font, fill=0,
                               anchor="ms")
    return _black_and_white(image)


def qr_image(url: str, width: int = DEFAULT_PAPER_DOTS) -> Image.Image:
    """The QR code of `url`, centred on a strip of paper `width` dots wide."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M,
                         box_size=QR_MODULE_DOTS, border=2)
    code.add_data(url)
    code.make(fit=True)
    symbol = code.make_image().get_image().convert("L")
    if symbol.width > width:
        symbol = symbol.resize((width, width), Image.Resampling.NEAREST)
    strip = Image.new("L", (width, symbol.height), 255)
    strip.paste(symbol, ((width - symbol.width) // 2, 0))
    return _black_and_white(strip)


# The PNG preview ------------------------------------------------------------

def render_preview_png(printout: Printout, path: str | Path,
                       width: int = DEFAULT_PAPER_DOTS) -> Path:
    """Draw the whole ticket as a PNG at `path` (parents created), as printed on
    paper `width` dots wide; every part drawn with Pillow and the shipped fonts."""
    parts: Sequence[Image.Image] = [
        render_block_image(printout.site_name, width),
        render_block_image(printout.number_label, width),
        _number_image(printout.number, width),
        render_block_image(Block("en", (Line(printout.issued_at, centered=True),)), width),
        *(render_block_image(section, width) for section in printout.sections),
        qr_image(printout.mobile_url, width),
        render_block_image(printout.qr_caption, width),
    ]
    gap = 12
    height = sum(part.height for part in parts) + gap * (len(parts) + 1)
    page = Image.new("L", (width, height), 255)
    top = gap
    for part in parts:
        page.paste(part.convert("L"), (0, top))
        top += part.height + gap
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.save(path, format="PNG")
    return path


def preview_path(file_path: str | Path, service_day: dt.date, number: str) -> Path:
    """Where a file printer's preview of one ticket goes: next to its output file."""
    return Path(file_path).parent / f"{service_day.isoformat()}-{number}.png"
