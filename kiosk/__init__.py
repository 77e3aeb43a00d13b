"""The kiosk: touch pages where visitors take a ticket (issuing itself is the API's)."""

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from tessera.clock import service_day
from tessera.devices.pairing import SECRET_COOKIE, NotPaired, authenticate, pair
from tessera.devices.screens import pairing_poll, pairing_screen
from tessera.languages import direction
from tessera.models import DeviceKind
from tessera.reports.feedback import (
    feedback_given,
    find_ticket,
    reason_choices,
    score_choices,
    visit_ended,
)
from tessera.sites.catalogue import (
    catalogue,
    check_language,
    get_kiosk,
    get_site,
    site_languages,
)
from tessera.sites.hours import OpeningHours, opening_words
from tessera.status.ticket import load_ticket, ticket_status
from tessera.stores import stores
from tessera.web.addresses import mobile_url
from tessera.web.csrf import public
from tessera.web.extensions import limiter

blueprint = Blueprint("kiosk", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/kiosk-static")
# The pairing cookie outlives any browser session: a kiosk is paired once, by staff.
SECRET_COOKIE_DAYS = 3650


class KioskNotPaired(Exception):
    """This browser holds no secret of this kiosk: staff must pair it before visitors use it."""

    def __init__(self, site_id: str, kiosk_key: str):
        super().__init__(kiosk_key)
        self.site_id, self.kiosk_key = site_id, kiosk_key


@blueprint.errorhandler(KioskNotPaired)
def not_paired(error):
    """The screen staff see on a kiosk that cannot print yet: the pairing code an admin
    types on /admin/devices (the page polls, and opens the kiosk once paired)."""
    with stores().database.session() as session:
        site = get_site(session, error.site_id)
        # For staff: in the kiosk browser's language (Accept-Language), not a visitor's.
        g.pop("language", None)
        page = {"site": {"id": site.id, "name": site.name, "language": site.language}}
    return pairing_screen(stores(), "kiosk/not_paired.html", DeviceKind.KIOSK, error.site_id,
                          error.kiosk_key,
                          url_for("kiosk.pairing_code", site_id=error.site_id,
                                  kiosk_key=error.kiosk_key),
                          page=page, kiosk=error.kiosk_key)


@blueprint.get("/kiosk/<site_id>/<kiosk_key>/pairing-code")
@limiter.limit("120/minute")
def pairing_code(site_id, kiosk_key):
    """The unpaired kiosk's screen asks here whether an admin has paired it yet."""
    with stores().database.session() as session:
        get_kiosk(session, site_id, kiosk_key)
    return pairing_poll(stores(), DeviceKind.KIOSK, site_id, kiosk_key, SECRET_COOKIE,
                        url_for("kiosk.choose_language", site_id=site_id,
                                kiosk_key=kiosk_key))


def _check_paired(site_id: str, kiosk_key: str) -> None:
    """Refuse the visitor screens unless this browser holds this kiosk's secret: without
    it, issuing would be refused, so a visitor would choose services for nothing."""
    with stores().database.session() as session:
        kiosk = authenticate(session, site_id, request.cookies.get(SECRET_COOKIE),
                             stores().engine.clock())
        if kiosk is None or kiosk.key != kiosk_key:
            raise KioskNotPaired(site_id, kiosk_key)


def _page(site_id: str, kiosk_key: str, language: str | None = None) -> dict:
    """A kiosk screen's catalogue, in `language` (default: the site's), for a known kiosk."""
    with stores().database.session() as session:
        site = get_site(session, site_id)
        get_kiosk(session, site_id, kiosk_key)
        g.language = check_language(site, language or site.language)
        page = catalogue(session, site_id, g.language)
    _check_paired(site_id, kiosk_key)
    return page


@blueprint.route("/kiosk/<site_id>/<kiosk_key>/pair", methods=["GET", "POST"])
@public
@limiter.limit("10/minute", methods=["POST"])
def pair_kiosk(site_id, kiosk_key):
    """Staff type the one-time pairing code on the kiosk; its secret becomes a cookie.

    Public (no CSRF token): the code itself is what proves the request, and it is
    limited per address so it cannot be guessed.
    """
    error = None
    with stores().database.session() as session:
        site = get_site(session, site_id)
        get_kiosk(session, site_id, kiosk_key)
        page = {"site": {"id": site.id, "name": site.name, "language": site.language}}
    if request.method == "POST":
        try:
            with stores().database.session() as session:
                secret = pair(session, site_id, kiosk_key, request.form.get("code", ""),
                              stores().engine.clock())
        except NotPaired as refused:
            error = refused.message
        else:
            response = redirect(url_for("kiosk.choose_language", site_id=site_id,
                                        kiosk_key=kiosk_key))
            # HttpOnly: no script on the page can read it; Strict: no other site's page
            # can make the kiosk's browser send it.
            response.set_cookie(SECRET_COOKIE, secret, max_age=SECRET_COOKIE_DAYS * 86400,
                                httponly=True, samesite="Strict",
                                secure=request.is_secure
                                or bool(current_app.config.get("SECURE_COOKIES")),
                                path="/")
            return response
    return render_template("kiosk/pair.html", page=page, kiosk=kiosk_key,
                           error=error), 422 if error else 200


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


@blueprint.get("/kiosk/<site_id>/<kiosk_key>/<language>/feedback")
@limiter.limit("60/minute")
def feedback_terminal(site_id, kiosk_key, language):
    """A feedback terminal by the exit: a leaving visitor types their ticket's number (or a
    QR code scanner types its address), then gives the same faces and chips as on the
    mobile ticket; sent from a paired kiosk, it is recorded as given at a kiosk.

    Limited per address: a number names only today's ended tickets of this site, and
    guessing numbers should not be a way to list them.
    """
    page = _page(site_id, kiosk_key, language)
    reference = request.args.get("ticket", "").strip()
    found = problem = None
    given = False
    if reference:
        with stores().database.session() as session:
            site = get_site(session, site_id)
            ticket = find_ticket(session, site_id, reference,
                                 service_day(stores().engine.clock(), site.timezone))
            if ticket is None:
                problem = _("We cannot find this ticket. Please check the number on your "
                            "ticket.")
            elif not visit_ended(ticket):
                problem = _("You can tell us how your visit was when it has ended.")
            else:
                found = {"number": ticket.number, "token": ticket.token}
                given = feedback_given(session, ticket.id)
    with stores().database.session() as session:
        site_langs = site_languages(get_site(session, site_id))
    start_url = url_for("kiosk.feedback_terminal", site_id=site_id, kiosk_key=kiosk_key,
                        language=page["language"])
    feedback = {"url": url_for("api.tickets.feedback", token=found["token"]) if found else "",
                "scores": score_choices(), "reasons": reason_choices()}
    return render_template("kiosk/feedback.html", page=page, kiosk=kiosk_key,
                           reference=reference, found=found, given=given, problem=problem,
                           feedback=feedback, start_url=start_url, languages=site_langs,
                           reset_seconds=FEEDBACK_THANKS_SECONDS), 422 if problem else 200


# The thank-you stays this long, then the terminal is ready for the next visitor.
FEEDBACK_THANKS_SECONDS = 8
