"""GET /healthz: whether this process reaches Redis and SQL, and whether the live state is sound."""

from flask import Blueprint, jsonify
from sqlalchemy import select, text

from tessera.models import Site
from tessera.stores import stores

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    """200 when both stores answer, else 503 naming the one that does not.

    While Redis was lost (restart, flush) or a live write failed and the repair has not
    run yet, 200 with status "degraded" and `stale_sites`: the system serves, and heals.
    """
    checks = {}
    try:
        checks["redis"] = bool(stores().redis.ping())
    except Exception:  # any failure to reach it is the answer, not an error
        checks["redis"] = False
    site_ids = []
    try:
        with stores().database.session() as session:
            checks["database"] = session.execute(text("SELECT 1")).scalar() == 1
            site_ids = list(session.scalars(select(Site.id)))
    except Exception:
        checks["database"] = False
    healthy = all(checks.values())
    if not healthy:
        return jsonify(status="unavailable", **checks), 503
    try:
        stale = [site for site in site_ids if not stores().live.generation_current(site)]
    except Exception:  # Redis went between the two looks: report it stale everywhere
        stale = site_ids
    if stale:
        return jsonify(status="degraded", stale_sites=stale, **checks), 200
    return jsonify(status="ok", **checks), 200
