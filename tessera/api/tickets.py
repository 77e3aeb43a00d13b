"""Tickets: issuing (from a kiosk or any front end), a ticket's status, the visitor leaving,
and the visitor's feedback once the visit has ended."""

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from redis.exceptions import RedisError
from sqlalchemy import select

from tessera.api.openapi import request_body
from tessera.appointments.checkin import CheckInWindow, check_in
from tessera.appointments.protection import hit_limit
from tessera.clock import local_time
from tessera.devices.pairing import SECRET_COOKIE, SECRET_HEADER, NotPaired, authenticate
from tessera.errors import InvalidInput
from tessera.models import Site, Ticket
from tessera.printing.jobs import enqueue_print, print_queue
from tessera.reports.feedback import give_feedback
from tessera.sites.catalogue import check_language, get_kiosk, get_site
from tessera.status.ticket import load_ticket, ticket_status
from tessera.stores import stores
from tessera.web.addresses import mobile_url
from tessera.web.csrf import public
from tessera.web.extensions import limiter

blueprint = Blueprint("tickets", __name__)


@blueprint.post("/sites/<site_id>/tickets")
@public
def issue(site_id):
    """Issue a ticket: {services: [ids], language, needs: []}; Idempotency-Key makes it once."""
    kiosk_key = _kiosk(site_id)  # first: a malformed request counts against a limit too
    body = request_body()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 128:
        raise InvalidInput(_("An Idempotency-Key has 1 to 128 characters."), "invalid_key")
    ticket = stores().engine.issue_ticket(site_id, body["services"], body["language"],
                                          body.get("needs", []), idempotency_key=key,
                                          kiosk=kiosk_key)
    return _issued(ticket, kiosk_key)


@blueprint.post("/sites/<site_id>/check-in")
@public
def check_in_appointment(site_id):
    """Check in for an appointment by its code: {code}; the ticket, as issuing answers."""
    kiosk_key = _kiosk(site_id)
    body = request_body()
    engine, config = stores().engine, current_app.config
    window = CheckInWindow(config["CHECK_IN_EARLY_MINUTES"], config["CHECK_IN_LATE_MINUTES"])
    ticket = check_in(engine, site_id, body["code"], engine.clock(), window, kiosk=kiosk_key)
    return _issued(ticket, kiosk_key)


def _kiosk(site_id: str) -> str | None:
    """The paired kiosk this request comes from (None: another front end), counted against
    its rate limit; or a refusal.

    A kiosk proves itself with its secret (the pairing cookie, or X-Kiosk-Secret); X-Kiosk
    alone is only a claim. So an authenticated kiosk spends its own bucket, which nobody
    else can reach, and every other request spends its client address's bucket, whatever
    X-Kiosk it sends: never one bucket shared by every anonymous caller.
    """
    claimed = request.headers.get("X-Kiosk")
    secret = request.headers.get(SECRET_HEADER) or request.cookies.get(SECRET_COOKIE)
    config = current_app.config
    with stores().database.session() as session:
        get_site(session, site_id)
        kiosk = authenticate(session, site_id, secret, stores().engine.clock())
        kiosk_key = kiosk.key if kiosk is not None else None
    if kiosk_key is not None and claimed in (None, kiosk_key):
        _count(config["ISSUE_LIMIT_PER_KIOSK"], ("issue-kiosk", site_id, kiosk_key))
        return kiosk_key
    # Counted before refusing, so guessing secrets is limited per address too.
    _count(config["ISSUE_LIMIT_PER_ADDRESS"], ("issue-address", get_remote_address() or "?"))
    if claimed is not None or secret:
        if claimed is not None:
            with stores().database.session() as session:
                get_kiosk(session, site_id, claimed)  # an unknown kiosk stays a 404
        raise NotPaired(_("This kiosk is not paired. Staff can pair it with a pairing "
                          "code."))
    return None


def _count(limit: str, identifiers: tuple[str, ...], message: str | None = None) -> None:
    """One request against `limit`; past it, a 429 a visitor can understand (by default
    the message about issuing)."""
    if limiter.enabled:
        hit_limit(limiter.limiter, limit,
                  (current_app.config["RATELIMIT_KEY_PREFIX"], *identifiers),
                  message or issue_limit_message())


def issue_limit_message() -> str:
    """What the kiosk screen shows a visitor when too many tickets were asked for."""
    return _("Many tickets were asked for here just now. Please wait a minute and try "
             "again, or ask at the reception.")


def _issued(ticket, kiosk_key: str | None):
    """The 201 answer for a committed ticket, printed at its kiosk if it came from one."""
    engine = stores().engine
    if kiosk_key is not None:
        _print(ticket.id, kiosk_key)
    status = ticket_status(engine, load_ticket(engine, ticket.token))
    status["token"] = ticket.token
    status["mobile_url"] = mobile_url(ticket.token)
    return jsonify(status), 201


def _print(ticket_id: int, kiosk_key: str) -> None:
    """Hand the committed ticket to the print worker; the visitor has it on screen anyway.

    A replayed issue enqueues again on purpose: the job id is the ticket's and a
    printed ticket never prints twice, so a print job lost with Redis comes back.
    """
    try:
        enqueue_print(print_queue(stores().redis), ticket_id, kiosk_key)
    except RedisError:
        current_app.logger.exception("Could not enqueue the print job of ticket %s", ticket_id)


@blueprint.get("/tickets/<token>")
def ticket(token):
    """A ticket's status, position, estimated wait and desk, in ?language= (default: its own)."""
    engine = stores().engine
    found = load_ticket(engine, token)
    language = request.args.get("language")
    if language:
        check_language(found.site, language)
    return jsonify(ticket_status(engine, found, language))


@blueprint.post("/tickets/<token>/cancel")
@public
def cancel(token):
    """The visitor leaves: the ticket's remaining steps are cancelled."""
    engine = stores().engine
    engine.cancel(token)
    return jsonify(ticket_status(engine, load_ticket(engine, token)))


@blueprint.post("/tickets/<token>/feedback")
@public
def feedback(token):
    """How the visit was: {score: 1..5, reasons: [...]}, once, after the visit has ended."""
    source = _feedback_source(token)  # first: a malformed request counts against a limit too
    body = request_body()
    engine = stores().engine
    given = give_feedback(engine.database, token, body["score"], body.get("reasons", []),
                          engine.clock(), source)
    with stores().database.session() as session:
        number, timezone = session.execute(
            select(Ticket.number, Site.timezone).join(Site, Site.id == Ticket.site_id)
            .where(Ticket.id == given.ticket_id)).one()
    return jsonify({"ticket": number, "score": given.score, "reasons": given.reasons,
                    "given_at": local_time(given.given_at, timezone).isoformat(),
                    "source": given.source}), 201


def _feedback_source(token: str) -> str:
    """'kiosk' when a paired kiosk of the ticket's site sends this (a feedback terminal by
    the exit), else 'ticket'; counted against that kiosk's or this address's limit.

    A kiosk proves itself with its secret, as for issuing; a secret that proves nothing
    makes the request an ordinary visitor's, which is all the source records.
    """
    config = current_app.config
    secret = request.headers.get(SECRET_HEADER) or request.cookies.get(SECRET_COOKIE)
    kiosk_key = site_id = None
    if secret:
        with stores().database.session() as session:
            site_id = session.scalar(select(Ticket.site_id).where(Ticket.token == token))
            kiosk = (authenticate(session, site_id, secret, stores().engine.clock())
                     if site_id is not None else None)
            kiosk_key = kiosk.key if kiosk is not None else None
    message = _("Much feedback was given here just now. Please wait a minute and try again.")
    if kiosk_key is not None:
        _count(config["FEEDBACK_LIMIT_PER_KIOSK"], ("feedback-kiosk", site_id, kiosk_key),
               message)
        return "kiosk"
    _count(config["FEEDBACK_LIMIT_PER_ADDRESS"],
           ("feedback-address", get_remote_address() or "?"), message)
    return "ticket"
