"""GET /sites/<site>/calls: today's latest calls for the hall displays; numbers, never names."""

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from tessera.errors import InvalidInput
from tessera.status.hall import recent_calls
from tessera.stores import stores

blueprint = Blueprint("calls", __name__)


@blueprint.get("/sites/<site_id>/calls")
def calls(site_id):
    """Today's latest calls, newest first (?zone= for one zone); numbers and desks only."""
    # Read strictly: type=int would take "limit=null" (or "limit=x") as the default.
    limit = request.args.get("limit", "12")
    if not (limit.isdecimal() and len(limit) <= 2 and 1 <= int(limit) <= 50):
        raise InvalidInput(_("'limit' must be between 1 and 50."), "invalid_limit")
    return jsonify({"site": site_id,
                    "calls": recent_calls(stores().engine, site_id, request.args.get("zone"),
                                          int(limit))})
