"""GET /sites/<site>/stats/live: the managers' live figures."""

from flask import Blueprint, current_app, jsonify

from tessera.status.appointments import check_in_window
from tessera.status.figures import live_stats
from tessera.stores import stores
from tessera.web.auth import require_manager, staff_required

blueprint = Blueprint("stats", __name__)


@blueprint.get("/sites/<site_id>/stats/live")
@staff_required
def live(site_id):
    """Live figures per service and per counter, for managers."""
    require_manager(site_id)
    return jsonify(live_stats(stores().engine, site_id, check_in_window(current_app.config)))
