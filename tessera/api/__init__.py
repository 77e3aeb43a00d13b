"""Every /api/v1 route, one module per resource; the contract is openapi.yaml beside them."""

from flask import Blueprint, jsonify

from tessera.api import (
    announcements,
    appointments,
    calls,
    catalogue,
    counters,
    hall_message,
    kiosks,
    planning,
    queues,
    reports,
    staff_appointments,
    stats,
    tickets,
    waiting_list,
)
from tessera.api.openapi import API_ROOT, openapi_document

blueprint = Blueprint("api", __name__, url_prefix=API_ROOT)
for _resource in (catalogue, tickets, queues, calls, kiosks, counters, stats, appointments,
                  staff_appointments, waiting_list, reports, planning, announcements,
                  hall_message):
    blueprint.register_blueprint(_resource.blueprint)


@blueprint.get("/openapi.json")
def openapi():
    """The OpenAPI document of the public API."""
    return jsonify(openapi_document())
