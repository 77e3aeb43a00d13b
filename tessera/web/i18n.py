"""Which language a page or an API answer speaks."""

from flask import current_app, g, has_request_context, request

from tessera.languages import SOURCE_LANGUAGE


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
