"""The contract /api/v1/openapi.json is exact, and request bodies are checked against it."""

import re

import pytest
from openapi_spec_validator import validate

from tessera.api.openapi import document_path, openapi_document
from tessera.staff.accounts import create_staff
from tessera.staff.auth import issue_token

API = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def served_operations(app) -> dict[tuple[str, str], list[str]]:
    """(document path, method) -> the rule's variable names, for every route under /api/v1."""
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API + "/") and rule.endpoint != "api.openapi":
            for method in rule.methods - IGNORED_METHODS:
                served[document_path(rule.rule), method] = sorted(rule.arguments)
    return served


def test_the_document_is_valid_openapi(client):
    response = client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    validate(response.get_json())


def test_every_route_is_documented_and_every_documented_route_is_served(client):
    documented = {(path, method.upper()) for path, operations in openapi_document()["paths"]
                  .items() for method in operations}
    assert set(served_operations(client.application)) == documented


def test_path_parameters_agree_with_the_routes(client):
    document = openapi_document()
    parameters = document["components"]["parameters"]
    for (path, method), arguments in served_operations(client.application).items():
        declared = []
        for parameter in document["paths"][path][method.lower()].get("parameters", []):
            if "$ref" in parameter:
                parameter = parameters[parameter["$ref"].rsplit("/", 1)[-1]]
            if parameter["in"] == "path":
                declared.append(parameter["name"])
        assert sorted(declared) == sorted(re.findall(r"{(\w+)}", path)), (path, method)
        assert len(declared) == len(arguments), (path, method)


def test_document_paths_follow_the_rules_parameter_names():
    assert document_path("/api/v1/counters/<int:counter_id>/refer") == "/counters/{counter}/refer"
    assert document_path("/api/v1/sites/<site_id>/kiosks/<kiosk_key>/printer") == \
        "/sites/{site}/kiosks/{kiosk}/printer"
    assert document_path("/api/v1/tickets/<token>") == "/tickets/{token}"


@pytest.mark.parametrize(("body", "code"), [
    ({"services": "registration", "language": "ar"}, "invalid_services"),
    ({"services": [1.5], "language": "ar"}, "invalid_services"),
    ({"services": [1]}, "invalid_language"),
    ({"services": [1], "language": 7}, "invalid_language"),
    ({"language": "ar"}, "invalid_services"),
    ({"services": [1], "language": "ar", "needs": [1]}, "invalid_needs"),
])
def test_a_body_of_the_wrong_shape_is_refused_by_the_document(client, site, body, code):
    response = client.post(f"{API}/sites/{site.id}/tickets", json=body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"].startswith("'")


def test_a_required_body_must_be_sent(client, site):
    response = client.post(f"{API}/sites/{site.id}/tickets")
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "invalid_json"


def manager_token(database, site) -> str:
    """A bearer token of a new manager of the site (no CSRF token needed)."""
    with database.session() as session:
        manager, _ = create_staff(session, site.id, "nikos", "Nikos", "manager", ["el"], [],
                                  "a long enough password")
        return issue_token(session, manager, "openapi test")


def test_an_optional_body_may_be_left_out_but_not_be_malformed(client, database, site):
    headers = {"Authorization": f"Bearer {manager_token(database, site)}"}
    desk = site.counters["desk-1"]
    opened = client.post(f"{API}/counters/{desk}/open", headers=headers)
    assert opened.status_code == 200 and opened.get_json()["counter"]["status"] == "open"
    malformed = client.post(f"{API}/counters/{desk}/open", headers=headers,
                            data="{", content_type="application/json")
    assert malformed.status_code == 422
    assert malformed.get_json()["error"]["code"] == "invalid_json"
    wrong = client.post(f"{API}/counters/{desk}/open", headers=headers,
                        json={"languages": "el"})
    assert wrong.status_code == 422
    assert wrong.get_json()["error"]["code"] == "invalid_languages"
