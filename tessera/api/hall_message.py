"""PUT /sites/<site>/hall-message: the line a manager sets for the hall's displays."""

from flask import Blueprint, jsonify
from flask_login import current_user

from tessera.api.openapi import request_body
from tessera.sites.hall_message import set_hall_message
from tessera.stores import stores
from tessera.web.auth import require_manager, staff_required

blueprint = Blueprint("hall_message", __name__)


@blueprint.put("/sites/<site_id>/hall-message")
@staff_required
def put_hall_message(site_id):
    """Set the message every display of the site shows: {message}; empty or null clears it."""
    require_manager(site_id)
    body = request_body()
    message = set_hall_message(stores().engine, site_id, body["message"], current_user.id)
    return jsonify({"site": site_id, "message": message})
