"""What a printed ticket says: its lines and blocks, its fixed texts and their translations.

A `Printout` is built from a committed ticket (`build_printout`) and holds only
what may be printed: the site's name, the ticket number, the services and what
to bring in the visitor's language and in the site language, the local date
and time of issue, the people ahead, and the mobile-ticket URL for the QR code.
Never a name or any other personal data (DESIGN.md, invariant 7).

How a printout reaches paper is elsewhere: tessera.printing.escpos sends it to
a printer, tessera.printing.preview draws it as a PNG.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from babel.support import Translations

from tessera.clock import local_time
from tessera.languages import direction

TRANSLATION_DIRECTORY = Path(__file__).parent.parent / "translations"


# Strings of the ticket, marked for pybabel (N_ is one of its default keywords);
# the kiosk's catalogues already translate them.
def N_(message: str) -> str:  # noqa: N802 - the name pybabel looks for
    """Mark a string for translation without translating it here."""
    return message


YOUR_NUMBER = N_("Your number")
PEOPLE_AHEAD = N_("People ahead of you")
BRING = N_("Bring:")
SCAN_QR = N_("Scan this code to follow your turn on your phone.")
APPOINTMENT_AT = N_("Appointment %(time)s")

# translate(language, message) -> the message in that language.
Translator = Callable[[str, str], str]


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
    steps = sorted(ticket.steps, key=lambda step: step.position)
    services = [step.service for step in steps]
    due = steps[0].appointment_due
    sections = []
    for language in languages:
        lines = []
        if due is not None:
            # A checked-in appointment: the slot time, local, so desk and visitor see it.
            time = local_time(due, site.timezone).strftime("%H:%M")
            lines.append(Line(translate(language, APPOINTMENT_AT) % {"time": time}, bold=True))
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
