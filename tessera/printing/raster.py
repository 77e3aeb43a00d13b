"""Text as a raster image: complex scripts laid out with Pillow's raqm and the Noto fonts.

What a receipt printer cannot print in its own font (Arabic and Farsi, which
need shaping and right-to-left order; Tigrinya's Ethiopic script; anything no
code page has) is drawn here with the fonts shipped in tessera/static/fonts,
one font per script run, wrapped to the paper width, in black and white for
the printer's raster command. The ticket number and the QR code can be drawn
too, for printers that cannot print them and for the PNG preview.
"""

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont, features

from tessera.printing.content import Block, Line
from tessera.printing.devices import DEFAULT_PAPER_DOTS

FONT_DIRECTORY = Path(__file__).parent.parent / "static" / "fonts"
# Pixel sizes for text drawn as an image; 28 px is about the height of the
# printer's own font A (24 dots) plus room for Arabic's taller marks.
TEXT_SIZE = 28
LARGE_TEXT_SIZE = 36
NUMBER_SIZE = 150
LINE_GAP = 6
MARGIN = 8
QR_MODULE_DOTS = 8

FONT_FILES = {
    ("sans", False): "NotoSans-Regular.ttf",
    ("sans", True): "NotoSans-Bold.ttf",
    ("arabic", False): "NotoSansArabic-Regular.ttf",
    ("arabic", True): "NotoSansArabic-Bold.ttf",
    ("ethiopic", False): "NotoSansEthiopic-Regular.ttf",
    ("ethiopic", True): "NotoSansEthiopic-Bold.ttf",
}
FAMILIES = ("sans", "arabic", "ethiopic")


def is_letter(character: str) -> bool:
    """Whether a character is a letter or a combining mark (of any script), not a neutral."""
    return unicodedata.category(character)[0] in "LM"


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
    if is_letter(character):
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


def number_image(number: str, width: int = DEFAULT_PAPER_DOTS) -> Image.Image:
    """The ticket number in large bold digits, centred on a strip `width` dots wide."""
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

