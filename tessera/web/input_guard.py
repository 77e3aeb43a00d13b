"""Hostile input is refused in one place, before any view, rate limit or CSRF check sees it.

What reaches a view has passed these checks, so no view needs its own:
- a body larger than MAX_CONTENT_LENGTH: 413 (Flask enforces the limit as the body is
  read; the Content-Length is checked first so nothing is read at all);
- a NUL character anywhere a view could read text from (the path, the query string,
  headers, form fields, JSON strings and keys): PostgreSQL cannot store one, and no
  name, code or note has one. A path with one names nothing (404); elsewhere 422;
- JSON nested too deeply to parse (`[` a hundred thousand times): the parser's
  RecursionError becomes a malformed body, which the view refuses like any other.

Integers too large for the database are bounded elsewhere: the document bounds every
id in a body (`maximum`), and the `id` path converter answers 404 for any other.
"""

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from tessera.errors import InvalidInput, NotFound
from tessera.models import MAX_ID

NUL = "\x00"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class IdConverter(IntegerConverter):
    """`<id:name>`: a row id, 1 to MAX_ID; a number beyond is 404 before any view, so a
    number the database cannot hold never reaches a query."""

    def to_python(self, value: str) -> int:
        """The id, or 404. Not IntegerConverter's max=, whose refusal makes Werkzeug try
        the next rule: where GET and POST are two rules of one path, a POST with a huge
        id then got 405 from the GET rule instead of 404."""
        number = super().to_python(value)
        if not 1 <= number <= MAX_ID:
            raise HTTPNotFound()
        return number


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a document too deeply nested to parse is malformed JSON."""

    def loads(self, s, **kwargs):
        """Parse JSON; RecursionError becomes the ValueError Flask turns into a 4xx."""
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def init_input_guard(app: Flask) -> None:
    """Install the JSON provider, the `id` converter and the guard; call this before the
    rate limiter and CSRF are set up, so the guard runs before their checks."""
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["id"] = IdConverter
    app.before_request(refuse_hostile_input)


def refuse_hostile_input() -> None:
    """Refuse a request too large, or with a NUL character in anything a view reads."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()
    if NUL in request.path:
        raise NotFound(_("There is nothing at this address."))
    texts = [*request.args.keys(), *request.args.values(), *request.headers.values()]
    if request.mimetype in FORM_TYPES:
        texts += [*request.form.keys(), *request.form.values(),
                  *(upload.filename or "" for upload in request.files.values())]
    if any(NUL in text for text in texts) or (request.is_json and _json_has_nul()):
        raise InvalidInput(_("The request contains a NUL character, which no field may "
                             "hold."), "invalid_characters")


def _json_has_nul() -> bool:
    """Whether the JSON body has a NUL in any string or key (a malformed body is left to
    the view, which says so); walked without recursion, however deep it is nested."""
    pending = [request.get_json(silent=True)]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if NUL in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
