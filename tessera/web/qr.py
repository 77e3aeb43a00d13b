"""QR codes as inline SVG, so pages and printouts need no image files or scripts."""

import qrcode
import qrcode.image.svg
from markupsafe import Markup


def qr_svg(data: str) -> Markup:
    """An SVG QR code of `data`, ready to place in a template."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10,
                        border=2)
    return Markup(image.to_string(encoding="unicode"))
