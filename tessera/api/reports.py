"""GET /sites/<site>/reports and its exports: figures from the event log."""

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from tessera.errors import InvalidInput
from tessera.reports.access import report_scope
from tessera.reports.export import (
    COLUMNS,
    EVENT_COLUMNS,
    event_rows,
    journey_tables,
    report_rows,
    to_csv,
    to_xlsx,
)
from tessera.reports.figures import check_group, check_range, journeys, parse_day, report
from tessera.stores import stores
from tessera.web.auth import require_manager, staff_required

blueprint = Blueprint("reports", __name__)
FORMATS = ("json", "csv", "xlsx")
# The tables of a report; a CSV holds one (table=...), a workbook all of them.
TABLES = ("figures", "arrivals", "flows", "organisation_flows", "unfinished")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _ids(name: str) -> set[int] | None:
    """A comma-separated list of ids in a query parameter, or None when it is absent."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise InvalidInput(_("%(name)s must be a comma-separated list of ids.", name=name),
                           "invalid_input", parameter=name) from None


def _format(accepted=FORMATS) -> str:
    """The format asked for (the first accepted one by default), or a 422."""
    wanted = request.args.get("format", accepted[0])
    if wanted not in accepted:
        raise InvalidInput(_("format must be one of: %(formats)s.",
                             formats=", ".join(accepted)), "invalid_format")
    return wanted


def _download(body, wanted: str, name: str) -> Response:
    """A CSV or XLSX attachment."""
    mimetype = "text/csv" if wanted == "csv" else XLSX
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}.{wanted}"'})


@blueprint.get("/sites/<site_id>/reports")
@staff_required
def reports(site_id):
    """Figures per group for a range of service days; staff see their organisations' only.

    format=csv or xlsx downloads the tables: a CSV the one named by table= (figures,
    arrivals, flows, organisation_flows or unfinished), a workbook every one. Exports
    suppress counts of fewer visits than REPORT_MINIMUM_COUNT, and the counts that would
    give them away;
    managers may ask for suppress=false for use inside the centre, an organisation's
    staff (partners) never get small cells.
    """
    first = parse_day(request.args.get("from"), "from")
    last = parse_day(request.args.get("to"), "to")
    group = check_group(request.args.get("group", "service"))
    wanted = _format()
    table = request.args.get("table", TABLES[0])
    if table not in TABLES:
        raise InvalidInput(_("table must be one of: %(tables)s.", tables=", ".join(TABLES)),
                           "invalid_input", parameter="table", accepted=list(TABLES))
    organisations = _ids("organisation")
    with stores().engine.database.session() as session:
        scope = report_scope(session, current_user.id, site_id)
        if scope is not None:
            organisations = scope if organisations is None else organisations & scope
        filters = {"service_ids": _ids("service"), "organisation_ids": organisations,
                   "language": request.args.get("language") or None,
                   "label_language": request.args.get("label_language")}
        result = report(session, site_id, first, last, group, **filters)
        flows = (journeys(session, site_id, first, last, **filters)
                 if wanted == "xlsx" or (wanted == "csv" and table != "figures") else None)
    if wanted == "json":
        return jsonify(result)
    minimum = current_app.config.get("REPORT_MINIMUM_COUNT", 5)
    if scope is None and request.args.get("suppress") == "false":
        minimum = None
    tables = {"figures": (COLUMNS, report_rows(result, minimum))}
    if flows is not None:
        tables.update(journey_tables(flows, minimum))
    if wanted == "csv":
        name = f"tessera-{site_id}-{table}-{group}-{first.isoformat()}-{last.isoformat()}"
        return _download(to_csv(*tables[table]), wanted, name)
    name = f"tessera-{site_id}-{group}-{first.isoformat()}-{last.isoformat()}"
    # The workbook's first sheet is named after the grouping of its figures.
    return _download(to_xlsx({group if key == "figures" else key: value
                              for key, value in tables.items()}), wanted, name)


@blueprint.get("/sites/<site_id>/reports/events")
@staff_required
def events(site_id):
    """The anonymised event log of a range of service days, for researchers (managers)."""
    require_manager(site_id)
    first = parse_day(request.args.get("from"), "from")
    last = parse_day(request.args.get("to"), "to")
    check_range(first, last)
    # The log is a table to download: CSV or XLSX only.
    wanted = _format(("csv", "xlsx"))
    with stores().engine.database.session() as session:
        rows = event_rows(session, site_id, first, last)
    name = f"tessera-{site_id}-events-{first.isoformat()}-{last.isoformat()}"
    if wanted == "csv":
        return _download(to_csv(EVENT_COLUMNS, rows), wanted, name)
    return _download(to_xlsx({"events": (EVENT_COLUMNS, rows)}), wanted, name)
