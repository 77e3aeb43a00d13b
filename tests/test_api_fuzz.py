"""Schemathesis over the whole API: no 5xx, and every answer as the document describes it.

Bounded (a few examples per operation, anonymous and with a manager's token, inside
the document and outside it), against the Flask app in process (WSGI), on SQLite and
PostgreSQL. A 401, 403 or 429 is fine wherever the document declares it, so kiosk
authentication or token expiry added later needs only its own lines in the document.
"""

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.openapi import from_wsgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tessera.staff.accounts import create_staff
from tessera.staff.auth import issue_token

from .helpers import PASSWORD

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
# Examples per operation and variant; variants: generated freely, outside the document,
# and with the path naming the test site and its desk (so that requests get past 404).
EXAMPLES = 2
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         derandomize=True, phases=[Phase.generate, Phase.shrink],
                         suppress_health_check=list(HealthCheck))


@pytest.mark.slow
def test_the_api_answers_every_request_as_documented(make_client, redis_client, database,
                                                     site):
    # Limits high enough that most requests reach their view (a 429 is still fine).
    app = make_client(ISSUE_LIMIT_PER_ADDRESS="10000/minute",
                      BOOKING_LIMIT_PER_ADDRESS="10000/minute",
                      BOOKING_LIMIT_PER_CONTACT="10000/minute").application
    with database.session() as session:
        manager, _ = create_staff(session, site.id, "fuzz", "Fuzz", "manager", ["el"], [],
                                  PASSWORD)
        token = issue_token(session, manager, "schemathesis")
    schema = from_wsgi("/api/v1/openapi.json", app)
    known = {"site": site.id, "counter": site.counters["desk-1"]}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:
        names = {parameter.name for parameter in operation.path_parameters}
        variants = [(operation.as_strategy(), False),
                    (operation.as_strategy(GenerationMode.NEGATIVE), True)]
        if names & known.keys():
            variants.append((operation.as_strategy(path_parameters={
                name: value for name, value in known.items() if name in names}), False))
        for strategy, negative in variants:
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                try:
                    _check(strategy, headers)
                except Unsatisfiable:
                    # Nothing can break the document here (a free string in the path).
                    if not negative:
                        raise


def _check(strategy, headers: dict) -> None:
    """Call the app with the strategy's cases and these headers; every check must pass."""

    @FUZZ_SETTINGS
    @given(case=strategy)
    def run(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()
