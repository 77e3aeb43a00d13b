"""The manager's reports page: filters, tables, charts beside their tables, exports."""

import datetime as dt

from flask import abort, render_template, request
from flask_babel import lazy_gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from tessera.clock import service_day
from tessera.errors import TesseraError
from tessera.models import Organisation, Service
from tessera.reports.access import report_scope
from tessera.reports.export import ENDING_NAMES, WEEKDAY_NAMES
from tessera.reports.figures import GROUPS, journeys, parse_day, report
from tessera.sites.catalogue import get_site, translated
from tessera.stores import stores
from tessera.web.i18n import use_staff_language

from . import blueprint

GROUP_NAMES = {"service": lazy_gettext("Service"), "organisation": lazy_gettext("Organisation"),
               "language": lazy_gettext("Language"), "hour": lazy_gettext("Hour of day"),
               "day": lazy_gettext("Day"), "week": lazy_gettext("Week"),
               "month": lazy_gettext("Month")}


def _optional_id(name: str) -> int | None:
    """An id from the query string; anything else means no filter."""
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


@blueprint.get("/manager/reports")
@login_required
def reports():
    """Reports of the signed-in member of staff's site, for any range of days.

    Managers and admins see every service; an organisation's staff see theirs only.
    Bad dates or groups fall back to the last 30 days by service, with a message.
    """
    site_id = current_user.site_id
    engine = stores().engine
    with engine.database.session() as session:
        site = get_site(session, site_id)
        language = use_staff_language(site.language)
        try:
            scope = report_scope(session, current_user.id, site_id)
        except TesseraError as error:
            abort(403, error.message)
        today = service_day(engine.clock(), site.timezone)
        error = None
        try:
            last = parse_day(request.args.get("to") or today.isoformat(), "to")
            first = parse_day(request.args.get("from")
                              or (last - dt.timedelta(days=29)).isoformat(), "from")
        except TesseraError as problem:
            error, first, last = problem.message, today - dt.timedelta(days=29), today
        group = request.args.get("group", "service")
        if group not in GROUPS:
            group = "service"
        services = [s for s in session.scalars(select(Service).where(
            Service.site_id == site_id).order_by(Service.position))
            if scope is None or s.organisation_id in scope]
        organisations = [o for o in session.scalars(select(Organisation).where(
            Organisation.site_id == site_id).order_by(Organisation.id))
            if scope is None or o.id in scope]
        service_id, organisation_id = _optional_id("service"), _optional_id("organisation")
        visit_language = request.args.get("language") or None
        if visit_language not in site.languages:
            visit_language = None
        organisation_ids = scope
        if organisation_id is not None:
            organisation_ids = {organisation_id} & (scope or {organisation_id})
        filters = {"service_ids": {service_id} if service_id else None,
                   "organisation_ids": organisation_ids, "language": visit_language,
                   "label_language": language}
        try:
            result = report(session, site_id, first, last, group, **filters)
            flows = journeys(session, site_id, first, last, **filters)
        except TesseraError as problem:
            error = problem.message
            first = last = today
            result = report(session, site_id, first, last, group, **filters)
            flows = journeys(session, site_id, first, last, **filters)
        choices = {
            "services": [(s.id, s.text(language).name) for s in services],
            "organisations": [(o.id, translated(o.name, language, site)) for o in organisations],
        }
    query = {"from": first.isoformat(), "to": last.isoformat(), "group": group,
             "service": service_id or "", "organisation": organisation_id or "",
             "language": visit_language or "", "label_language": language}
    return render_template(
        "manager/reports.html", site_id=site_id, site_languages=site.languages,
        result=result, flows=flows, choices=choices, query=query, error=error,
        groups=[(key, str(GROUP_NAMES[key])) for key in GROUPS],
        weekdays=[str(day) for day in WEEKDAY_NAMES],
        endings={key: str(value) for key, value in ENDING_NAMES.items()},
        manager=scope is None)
