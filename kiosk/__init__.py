"""The kiosk: touch pages where visitors take a ticket (issuing itself is the API's)."""

from flask import Blueprint, abort, current_app, g, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from tessera.languages import direction
from tessera.sites.catalogue import catalogue, check_language, get_kiosk, get_site
from tessera.sites.hours import OpeningHours, opening_words
from tessera.status.ticket import load_ticket, ticket_status
from tessera.stores import stores
from tessera.web.addresses import mobile_url

blueprint = Blueprint("kiosk", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/kiosk-static")


def _page(site_id: str, kiosk_key: str, language: str | None = None) -> dict:
    """A kiosk screen's catalogue, in `language` (default: the site's), for a known kiosk."""
    with stores().database.session() as session:
        site = get_site(session, site_id)
        get_kiosk(session, site_id, kiosk_key)
        g.language = check_language(site, language or site.language)
        return catalogue(session, site_id, g.language)


@blueprint.get("/kiosk/<site_id>/<kiosk_key>")
def choose_language(site_id, kiosk_key):
    """First screen: the site's languages, each in its own script; or, outside the opening
    hours, that the centre is closed and when it opens, in every language."""
    page = _page(site_id, kiosk_key)
    with stores().database.session() as session:
        closed = closed_notices(get_site(session, site_id), stores().engine.clock())
    return render_template("kiosk/languages.html", page=page, kiosk=kiosk_key, closed=closed)


def closed_notices(site, now) -> list[dict] | None:
    """None while walk-in tickets are issued; else the closed notice in each site language."""
    hours = OpeningHours.of(site)
    if hours.accepts_walk_in(now):
        return None
    opens = hours.next_opening(now)
    notices = []
    for language in site.languages:
        with force_locale(language):
            text = (_("The centre is closed now. It opens again on %(day)s at %(time)s.",
                      **opening_words(opens, site.timezone, language))
                    if opens else _("The centre is closed now."))
        notices.append({"language": language, "direction": direction(language), "text": text})
    return notices


@blueprint.get("/kiosk/<site_id>/<kiosk_key>/<language>")
def choose_services(site_id, kiosk_key, language):
    """Second screen: services by category, needs, and the take-a-ticket button."""
    return render_template("kiosk/services.html", page=_page(site_id, kiosk_key, language),
                           kiosk=kiosk_key,
                           max_services=current_app.config["MAX_SERVICES_PER_TICKET"])


@blueprint.get("/kiosk/<site_id>/<kiosk_key>/<language>/appointment")
def appointment(site_id, kiosk_key, language):
    """Check in for an appointment by its code; the ticket then shows as after issuing."""
    return render_template("kiosk/appointment.html",
                           page=_page(site_id, kiosk_key, language), kiosk=kiosk_key)


@blueprint.get("/kiosk/<site_id>/<kiosk_key>/<language>/ticket/<token>")
def confirmation(site_id, kiosk_key, language, token):
    """Last screen: the committed ticket, large, with its QR code and what to bring."""
    page = _page(site_id, kiosk_key, language)
    engine = stores().engine
    ticket = load_ticket(engine, token)
    if ticket.site_id != site_id:
        abort(404)
    return render_template("kiosk/ticket.html", page=page, kiosk=kiosk_key, token=token,
                           ticket=ticket_status(engine, ticket, language),
                           mobile_url=mobile_url(token))
