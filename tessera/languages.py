"""Facts about languages: each one's own name and its direction of writing."""

from babel import Locale
from flask_babel import get_locale

SOURCE_LANGUAGE = "en"  # strings are written in English; catalogues translate them


def language_name(code: str) -> str:
    """A language's name in its own script ("العربية", "ትግርኛ"), as a visitor looks for it."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def language_names(codes: list[str]) -> dict[str, str]:
    """Each language's own name by its code, for scripts that get codes from live data."""
    return {code: language_name(code) for code in codes}


def direction(code: str) -> str:
    """'rtl' for languages written right to left, else 'ltr'."""
    return "rtl" if Locale.parse(code).character_order == "right-to-left" else "ltr"


def current_language() -> str:
    """The language messages are written in now: the request's locale, else English."""
    locale = get_locale()  # None outside a request
    return str(locale) if locale else SOURCE_LANGUAGE
