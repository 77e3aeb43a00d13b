"""GET /sites/<site>/queues: per service, how many wait, since when, and the estimate;
and the hall message, which the displays re-read with them."""

from flask import Blueprint, jsonify, request

from tessera.sites.catalogue import check_language, get_site
from tessera.status.hall import service_waits
from tessera.stores import stores

blueprint = Blueprint("queues", __name__)


@blueprint.get("/sites/<site_id>/queues")
def queues(site_id):
    """Per service: how many wait, since when, and the estimate for a new ticket."""
    engine = stores().engine
    with engine.database.session() as session:
        site = get_site(session, site_id)
        language = check_language(site, request.args.get("language", site.language))
        message = site.hall_message
    oldest = {row["service_id"]: row["oldest_arrival"] for row in engine.queue_overview(site_id)}
    return jsonify({"site": site_id, "services": [
        {**row, "oldest_arrival": oldest[row["service_id"]].isoformat() + "Z"
         if oldest.get(row["service_id"]) else None}
        for row in service_waits(engine, site_id, language)], "hall_message": message})
