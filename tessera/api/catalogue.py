"""GET /sites/<site>/services: the catalogue a kiosk or a booking page shows."""

from flask import Blueprint, jsonify, request

from tessera.sites.catalogue import catalogue, get_site
from tessera.stores import stores

blueprint = Blueprint("catalogue", __name__)


@blueprint.get("/sites/<site_id>/services")
def services(site_id):
    """The catalogue of a site's services, by category, in ?language= (default: site's)."""
    with stores().database.session() as session:
        site = get_site(session, site_id)
        return jsonify(catalogue(session, site_id, request.args.get("language", site.language)))
