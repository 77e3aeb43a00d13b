"""The PNG preview of a printout: the ticket as the paper would show it, all drawn with Pillow.

A file printer has no paper to look at; its preview is drawn next to its
output file, every part (including the text a printer would print in its own
font) laid out by tessera.printing.raster.
"""

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from tessera.printing.content import Block, Line, Printout
from tessera.printing.devices import DEFAULT_PAPER_DOTS
from tessera.printing.raster import number_image, qr_image, render_block_image


def render_preview_png(printout: Printout, path: str | Path,
                       width: int = DEFAULT_PAPER_DOTS) -> Path:
    """Draw the whole ticket as a PNG at `path` (parents created), as printed on
    paper `width` dots wide; every part drawn with Pillow and the shipped fonts."""
    parts: Sequence[Image.Image] = [
        render_block_image(printout.site_name, width),
        render_block_image(printout.number_label, width),
        number_image(printout.number, width),
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
