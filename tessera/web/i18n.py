"""Which language a page or an API answer speaks."""

from flask import current_app, g, has_request_context, request
from flask_login import current_user

from tessera.languages import SOURCE_LANGUAGE


def translated_languages() -> list[str]:
    """The languages we have compiled catalogues for, and English, the source."""
    babel = current_app.extensions["babel"].instance
    codes = [str(locale) for locale in babel.list_translations()]
    return codes if SOURCE_LANGUAGE in codes else [*codes, SOURCE_LANGUAGE]


def chosen_page_language() -> str | None:
    """The language the signed-in member of staff chose for their pages, if we still have it."""
    chosen = getattr(current_user, "page_language", None)
    return chosen if chosen in translated_languages() else None


def use_staff_language(site_language: str) -> str:
    """Render this staff page in its member of staff's language, else the site's; says which."""
    g.language = chosen_page_language() or site_language
    return g.language


def select_locale() -> str:
    """The language of the page or API answer: the one a route chose (g.language), else
    the signed-in member of staff's (so the desk's API messages match their pages), else
    the best match of the request's Accept-Language among our translations."""
    chosen = g.get("language")
    if chosen:
        return chosen
    if not has_request_context():
        return SOURCE_LANGUAGE
    return (chosen_page_language()
            or request.accept_languages.best_match(translated_languages()) or SOURCE_LANGUAGE)
