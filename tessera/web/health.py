"""GET /healthz: whether this process reaches Redis and SQL."""

from flask import Blueprint, jsonify
from sqlalchemy import text

from tessera.stores import stores

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    """200 when both stores answer, else 503 naming the one that does not."""
    checks = {}
    try:
        checks["redis"] = bool(stores().redis.ping())
    except Exception:  # any failure to reach it is the answer, not an error
        checks["redis"] = False
    try:
        with stores().database.session() as session:
            checks["database"] = session.execute(text("SELECT 1")).scalar() == 1
    except Exception:
        checks["database"] = False
    healthy = all(checks.values())
    return jsonify(status="ok" if healthy else "unavailable", **checks), 200 if healthy else 503
