"""The API's contract (openapi.yaml beside this file), and request bodies checked against it.

The document is the one description of every request body: a view asks for
`request_body()`, which validates the JSON against the schema the document
gives that route and method (jsonschema, JSON Schema 2020-12 as OpenAPI 3.1
uses). So the contract and the checks cannot drift apart.
"""

from functools import cache
from importlib import resources

import yaml
from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from jsonschema import Draft202012Validator, validators
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tessera.errors import InvalidInput

API_ROOT = "/api/v1"
DOCUMENT_URI = "urn:tessera:api:v1"
# What a visitor or an integrator is told when a field has the wrong shape;
# other fields get a generic message that names them.
FIELD_MESSAGES = {
    "services": lazy_gettext("'services' must be a list of service ids."),
    "service": lazy_gettext("'service' must be a service id."),
    "language": lazy_gettext("'language' must be a language code such as 'ar'."),
    "languages": lazy_gettext("'languages' must be a list of language codes."),
    "needs": lazy_gettext("'needs' must be a list such as [\"priority\"]."),
    "note": lazy_gettext("'note' must be text."),
    "start": lazy_gettext("'start' must be a time with its offset, such as "
                          "2026-11-24T10:30:00+02:00."),
    "contact": lazy_gettext("'contact' may have only 'email' and 'phone', each as text."),
    "hold": lazy_gettext("'hold' must be true or false."),
    "code": lazy_gettext("'code' must be the code of the appointment, as text."),
    "score": lazy_gettext("'score' must be a whole number from 1 to 5."),
    "reasons": lazy_gettext("'reasons' must be a list of known reasons, each at most once."),
}


def _is_integer(_checker, instance) -> bool:
    """An integer is a JSON number written without a fraction: JSON Schema also takes 1.0,
    which would reach the database as a float (a type error there, not a "not found")."""
    return isinstance(instance, int) and not isinstance(instance, bool)


# The 2020-12 dialect, with that stricter reading of "integer".
BodyValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))


@cache
def openapi_document() -> dict:
    """The contract of /api/v1, kept as readable YAML beside the code."""
    text = resources.files("tessera.api").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def document_path(rule: str) -> str:
    """The document's path for a Flask URL rule: /api/v1/counters/<int:counter_id> ->
    /counters/{counter}, by the parameter names of the document (site, token, ...)."""
    parts = []
    for part in rule.removeprefix(API_ROOT).split("/"):
        if part.startswith("<"):
            name = part.strip("<>").split(":")[-1].removesuffix("_id").removesuffix("_key")
            part = "{" + name + "}"
        parts.append(part)
    return "/".join(parts)


@cache
def _body_validators() -> dict[tuple[str, str], tuple[BodyValidator, bool]]:
    """For each (path, method) with a JSON body: its validator and whether a body is required."""
    document = openapi_document()
    registry = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
    validators = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is None:
                continue
            reference = body["content"]["application/json"]["schema"]["$ref"]
            validator = BodyValidator({"$ref": DOCUMENT_URI + reference}, registry=registry)
            validators[path, method.upper()] = (validator, body.get("required", False))
    return validators


def request_body() -> dict:
    """This request's JSON body, checked against the contract; 422 with a clear message if not.

    An optional body may be left out (an empty request); one that is sent
    must be a JSON object of the documented shape.
    """
    validator, required = _body_validators()[document_path(request.url_rule.rule),
                                              request.method]
    if not required and not request.get_data(cache=True):
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(_("Send a JSON object with Content-Type: application/json."),
                           "invalid_json")
    error = next(iter(sorted(validator.iter_errors(body), key=lambda e: list(e.path))), None)
    if error is not None:
        field = _field(error)
        message = FIELD_MESSAGES.get(field) or _("'%(field)s' is not valid here.", field=field)
        raise InvalidInput(str(message), f"invalid_{field}")
    return body


def _field(error) -> str:
    """The top-level field an error is about (a missing one is named by the error)."""
    if error.path:
        return str(error.path[0])
    if error.validator == "required":
        return next(name for name in error.validator_value if name not in error.instance)
    return "body"
