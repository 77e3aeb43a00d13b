"""GET /sites/<site>/planning: the staffing plan from a range of the site's history."""

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext as _

from tessera.errors import InvalidInput
from tessera.planning.demand import demand_from_history
from tessera.planning.staffing import DEFAULT_SHARE, make_plan, public_rows, rows_csv
from tessera.reports.figures import parse_day
from tessera.stores import stores
from tessera.web.auth import require_manager, staff_required

blueprint = Blueprint("planning", __name__)
FORMATS = ("json", "csv")


def parse_share(value: str | None) -> float:
    """The share of visitors to call within target, from (0, 1); 422 otherwise."""
    if value in (None, ""):
        return DEFAULT_SHARE
    try:
        share = float(value)
    except ValueError:
        share = -1.0
    if not 0 < share < 1:
        raise InvalidInput(_("share must be a number between 0 and 1, such as 0.8."),
                           "invalid_share", parameter="share")
    return share


@blueprint.get("/sites/<site_id>/planning")
@staff_required
def planning(site_id):
    """The staffing plan per service, weekday and hour, for the site's managers.

    format=csv downloads the rows; json gives the rows and, per weekday, the desks on
    duty, the languages to cover and the simulated figures.
    """
    require_manager(site_id)
    first = parse_day(request.args.get("from"), "from")
    last = parse_day(request.args.get("to"), "to")
    share = parse_share(request.args.get("share"))
    wanted = request.args.get("format", "json")
    if wanted not in FORMATS:
        raise InvalidInput(_("format must be one of: %(formats)s.", formats=", ".join(FORMATS)),
                           "invalid_format")
    with stores().database.session() as session:
        demands = demand_from_history(session, site_id, first, last)
    plan = make_plan(demands, stores().live, share)
    if wanted == "csv":
        name = f"tessera-{site_id}-plan-{first.isoformat()}-{last.isoformat()}"
        return Response(rows_csv(plan["rows"]), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{name}.csv"'})
    return jsonify({"site": site_id, "from": first.isoformat(), "to": last.isoformat(),
                    "share": share, "rows": public_rows(plan["rows"]), "days": plan["days"]})
