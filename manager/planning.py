"""The manager's staffing plan: desks per service and hour, languages to cover, what-if."""

import datetime as dt

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from tessera.api.planning import parse_share
from tessera.clock import service_day
from tessera.errors import TesseraError
from tessera.planning.demand import demand_from_history
from tessera.planning.staffing import (
    WHAT_IF_ACTIONS,
    Change,
    day_rows,
    day_summary,
    plan_day,
    what_if,
)
from tessera.reports.export import WEEKDAY_NAMES
from tessera.reports.figures import parse_day
from tessera.sites.catalogue import get_site
from tessera.stores import stores
from tessera.web.auth import require_manager
from tessera.web.i18n import use_staff_language

from . import blueprint

# A plan looks back four weeks by default: every weekday seen a few times.
DEFAULT_DAYS = 28


def _hour(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and int(value) < 24 else None


def _change(services: list[str], languages: list[str]) -> tuple[Change, int] | None:
    """The what-if asked for in the query string and its weekday, or None if none (or bad)."""
    action = request.args.get("action")
    weekday, start, end = _hour("weekday"), _hour("from_hour"), _hour("to_hour")
    if action not in WHAT_IF_ACTIONS or weekday is None or weekday > 6 or start is None:
        return None
    end = start if end is None or end < start else end
    service = request.args.get("service") or None
    language = request.args.get("language") or None
    if service not in services:
        service = None
    if language not in languages:
        language = None
    if (action in ("add_desk", "remove_desk") and service is None) or (
            action in ("add_language", "remove_language") and language is None):
        return None
    return Change(action, tuple(range(start, end + 1)), service, language), weekday


@blueprint.get("/manager/planning")
@login_required
def planning():
    """The staffing plan of the manager's site from a range of its history, with a what-if.

    Bad dates or share fall back to the last DEFAULT_DAYS days and 80%, with a message.
    """
    site_id = current_user.site_id
    require_manager(site_id)
    database, live = stores().database, stores().live
    error = None
    with database.session() as session:
        site = get_site(session, site_id)
        language = use_staff_language(site.language)
        today = service_day(stores().engine.clock(), site.timezone)
        try:
            last = parse_day(request.args.get("to") or today.isoformat(), "to")
            first = parse_day(request.args.get("from")
                              or (last - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat(), "from")
            share = parse_share(request.args.get("share"))
            demands = demand_from_history(session, site_id, first, last, language)
        except TesseraError as problem:
            error = problem.message
            first, last, share = today - dt.timedelta(days=DEFAULT_DAYS - 1), today, 0.8
            demands = demand_from_history(session, site_id, first, last, language)
    plans = [plan_day(demand, live, share) for demand in demands]
    labels = {key: label for demand in demands for key, label in demand.labels.items()}
    days = []
    for plan in plans:
        rows = day_rows(plan)
        days.append({"summary": day_summary(plan), "rows": rows,
                     "name": str(WEEKDAY_NAMES[plan.demand.weekday]),
                     "hours": [plan.demand.opens_at + hour
                               for hour in range(plan.demand.scenario.open_hours)]})
    comparison = change = None
    asked = _change(list(labels), site.languages)
    if asked is not None:
        change, weekday = asked
        plan = next((plan for plan in plans if plan.demand.weekday == weekday), None)
        if plan is None:
            error = _("There were no visits on that weekday in this range.")
        else:
            comparison = what_if(plan, [change], live)
    elif request.args.get("action"):
        error = _("Choose a change, a weekday, an hour and a service or language.")
    query = {"from": first.isoformat(), "to": last.isoformat(), "share": share}
    return render_template(
        "manager/planning.html", site_id=site_id, site_languages=site.languages, days=days,
        labels=labels, query=query, error=error, comparison=comparison, change=change,
        weekday_names=[str(day) for day in WEEKDAY_NAMES],
        what_if_query={key: request.args.get(key, "") for key in
                       ("weekday", "action", "service", "language", "from_hour", "to_hour")},
        chart_labels={"within": _("Expected within target")})
