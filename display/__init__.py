"""Displays: the hall's call screens, and the mobile ticket on a visitor's phone."""

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from tessera.devices.pairing import DISPLAY_SECRET_COOKIE, authenticate, displays_must_pair
from tessera.devices.screens import pairing_poll, pairing_screen
from tessera.languages import direction as text_direction
from tessera.models import Counter, DeviceKind
from tessera.reports.feedback import feedback_given, reason_choices, score_choices, visit_ended
from tessera.sites.catalogue import check_language, get_site, site_languages, translated
from tessera.status.ticket import load_ticket, ticket_status
from tessera.stores import stores
from tessera.voice import Settings, spoken_languages
from tessera.web.extensions import limiter

# Calls shown by default: five fill a 1920x1080 screen at the sizes readable across a hall.
DEFAULT_ROWS = 5
MAX_ROWS = 12

blueprint = Blueprint("display", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/display-static")


@blueprint.get("/t/<token>")
def mobile_ticket(token):
    """The live mobile ticket: number, place, wait, and the call, on the visitor's phone."""
    engine = stores().engine
    found = load_ticket(engine, token)
    language = request.args.get("language") or found.language
    g.language = check_language(found.site, language)
    with stores().database.session() as session:
        given = feedback_given(session, found.id)
    feedback = {"url": url_for("api.tickets.feedback", token=token),
                "scores": score_choices(), "reasons": reason_choices(),
                "ended": visit_ended(found), "given": given}
    return render_template("display/mobile_ticket.html", token=token,
                           ticket=ticket_status(engine, found, language),
                           languages=site_languages(found.site), feedback=feedback)


@blueprint.get("/display/<site_id>/pairing-code")
@limiter.limit("120/minute")
def pairing_code(site_id):
    """An unpaired hall display's screen asks here whether an admin has paired it yet."""
    with stores().database.session() as session:
        get_site(session, site_id)
    return pairing_poll(stores(), DeviceKind.DISPLAY, site_id, None, DISPLAY_SECRET_COOKIE,
                        url_for("display.hall", site_id=site_id))


@blueprint.get("/display/<site_id>")
@blueprint.get("/display/<site_id>/<zone>")
def hall(site_id, zone=None):
    """The call display for a TV in the hall: recent calls, waits, spoken announcements.

    `?rows=N` (1 to 12, default 5) sets how many calls it shows: fewer rows are larger.
    """
    rows = request.args.get("rows", str(DEFAULT_ROWS))
    rows = int(rows) if rows.isdecimal() and 1 <= int(rows) <= MAX_ROWS else DEFAULT_ROWS
    with stores().database.session() as session:
        site = get_site(session, site_id)
        # Once the site registers displays, a hall screen must be one of them, paired.
        if displays_must_pair(session, site_id) and authenticate(
                session, site_id, request.cookies.get(DISPLAY_SECRET_COOKIE),
                stores().engine.clock(), DeviceKind.DISPLAY) is None:
            page = {"site": {"id": site.id, "name": translated(site.name, site.language, site),
                             "language": site.language}}
            return pairing_screen(stores(), "display/not_paired.html", DeviceKind.DISPLAY,
                                  site_id, None,
                                  url_for("display.pairing_code", site_id=site_id), page=page)
        if zone is not None and not session.scalar(select(Counter.id).where(
                Counter.site_id == site_id, Counter.zone == zone, Counter.active)):
            abort(404, _("There is no zone '%(zone)s' at this site.", zone=zone))
        g.language = site.language
        texts = {}
        for language in site.languages:
            with force_locale(language):
                texts[language] = {
                    "now_calling": _("Now calling"), "ticket": _("Ticket"), "desk": _("Desk"),
                    "waiting": _("Waiting"), "estimated_wait": _("Estimated wait"),
                    "people_waiting": _("People waiting"),
                    "minutes": _("%(num)s min", num="{minutes}"),
                    "announcement": _("Ticket %(number)s, please go to %(counter)s.",
                                      number="{number}", counter="{counter}"),
                    "sound_blocked": _("This screen cannot play sound yet. Touch it once "
                                       "to allow sound."),
                    "site_name": translated(site.name, language, site),
                    "direction": text_direction(language)}
    # The announcements' address, with placeholders the script fills in for each call.
    announcement_url = url_for("api.announcements.announcement", site_id=site.id,
                               language="LANGUAGE", ticket="TICKET", counter_key="COUNTER")
    return render_template("display/hall.html", site=site, zone=zone, texts=texts, rows=rows,
                           voiced=spoken_languages(site.languages, Settings.from_environment()),
                           announcement_url=announcement_url,
                           site_name=translated(site.name, site.language, site))
