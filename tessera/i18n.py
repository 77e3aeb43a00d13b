"""Languages: which one a page speaks, its direction, and each language's own name."""

from babel import Locale
from flask import current_app, g, has_request_context, request

SOURCE_LANGUAGE = "en"  # strings are written in English; catalogues translate them


def language_name(code: str) -> str:
    """A language's name in its own script ("العربية", "ትግርኛ"), as a visitor looks for it."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def direction(code: str) -> str:
    """'rtl' for languages written right to left, else 'ltr'."""
    return "rtl" if Locale.parse(code).character_order == "right-to-left" else "ltr"


def translated_languages() -> list[str]:
    """The languages we have compiled catalogues for, and English, the source."""
    babel = current_app.extensions["babel"].instance
    codes = [str(locale) for locale in babel.list_translations()]
    return codes if SOURCE_LANGUAGE in codes else [*codes, SOURCE_LANGUAGE]


def select_locale() -> str:
    """The language of the page or API answer: the one a route chose (g.language),
    else the best match of the request's Accept-Language among our translations."""
    chosen = g.get("language")
    if chosen:
        return chosen
    if not has_request_context():
        return SOURCE_LANGUAGE
    return request.accept_languages.best_match(translated_languages()) or SOURCE_LANGUAGE
