"""The visitor's booking pages: choose a service, a day and a time; manage the appointment.

Server-rendered forms that work without scripts, on a phone first:
`/book/<site>` (language) -> service -> day -> time (held) -> `/a/<token>` (contact,
then the confirmation with the code, QR code and calendar file). `/a/<token>` is
also where the visitor later sees, moves or cancels the appointment. The
booking itself is tessera.appointments; these views only read forms and render.
"""

import datetime as dt
import math
import secrets

from babel.dates import format_skeleton
from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from tessera.appointments.availability import (
    MAX_DAYS,
    booking_window,
    get_service,
    settings_of,
    slots,
)
from tessera.appointments.booking import book, cancel, confirm, get_appointment, move
from tessera.appointments.checkin import CheckInWindow
from tessera.appointments.ics import appointment_calendar
from tessera.appointments.waiting_list import join
from tessera.errors import InvalidInput, NotFound, TesseraError
from tessera.languages import direction
from tessera.models import AppointmentState, Service, WaitingListEntry
from tessera.sites.catalogue import (
    check_language,
    get_site,
    service_entry,
    site_languages,
    translated,
)
from tessera.sites.hours import OpeningHours, opening_words
from tessera.stores import stores
from tessera.web.addresses import manage_url
from tessera.web.booking_guard import protect_booking, protect_hold, protect_waiting_list
from tessera.web.csrf import public

blueprint = Blueprint("booking", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/booking-static")

DAYS_PER_PAGE = 7  # one week of days at a time: short enough for a phone's screen
CHANGEABLE = (AppointmentState.HELD, AppointmentState.BOOKED)
# Which form field a refusal belongs to, so the page shows it next to that field; any
# other refusal shows above the form.
FIELD_OF_ERROR = {"invalid_email": "email", "invalid_phone": "phone",
                  "invalid_first_day": "first_day", "day_in_past": "first_day",
                  "invalid_last_day": "last_day", "invalid_day_range": "last_day",
                  "beyond_horizon": "last_day"}


def _now() -> dt.datetime:
    # The engine's clock, so that tests move one time for the pages and the API alike.
    return stores().engine.clock()


def _visitor_site(session, site_id: str, language: str):
    """The site, with the page's language set to the visitor's (one the site offers)."""
    site = get_site(session, site_id)
    g.language = check_language(site, language)
    return site


def _site_facts(site, language: str) -> dict:
    """What every booking page shows of the site."""
    return {"id": site.id, "name": translated(site.name, language, site), "language": language,
            "direction": direction(language), "languages": site_languages(site)}


def _bookable_service(session, site_id: str, service_key: str) -> Service:
    """A service of the site that takes appointments, or a clear refusal."""
    service = get_service(session, site_id, service_key)
    settings_of(service)
    return service


def _day_of(text: str) -> dt.date:
    """A day from the address (YYYY-MM-DD), or NotFound."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise NotFound(_("There is no such day."), "unknown_day") from None


def _start_of(text: str | None) -> dt.datetime:
    """The chosen time as the form posts it (ISO 8601 with offset), as naive UTC."""
    try:
        start = dt.datetime.fromisoformat(text or "")
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise InvalidInput(_("Please choose a time from the list."), "invalid_start")
    return start.astimezone(dt.UTC).replace(tzinfo=None)


def _day_label(day: dt.date, language: str) -> str:
    """A day as a visitor reads it, e.g. "Tuesday, 24 November"."""
    return format_skeleton("MMMMEEEEd", dt.datetime.combine(day, dt.time(12)), locale=language)


def day_choices(session, service: Service, language: str, now: dt.datetime) -> list[dict]:
    """Every local day of the service's booking horizon that has slots, with its free times.

    Each: {"day", "label", "free", "free_in_language"}; a day whose slots are all
    taken has `free` 0 and shows as not available.
    """
    today = OpeningHours.of(service.site).local_day(now)
    last_day = booking_window(service, now)[1]
    total = (last_day - today).days + 1
    found = []
    for offset in range(0, total, MAX_DAYS):
        found += slots(session, service, today + dt.timedelta(days=offset),
                       min(MAX_DAYS, total - offset), language, now)
    hours = OpeningHours.of(service.site)
    days: dict[dt.date, dict] = {}
    for slot in sorted(found, key=lambda slot: slot.start):
        entry = days.setdefault(hours.local_day(slot.start), {"free": 0, "free_in_language": 0})
        if slot.available:
            entry["free"] += 1
            entry["free_in_language"] += not slot.interpreter
    return [{"day": day, "label": _day_label(day, language), **counts}
            for day, counts in days.items()]


def time_choices(session, service: Service, day: dt.date, language: str,
                 now: dt.datetime) -> dict[str, list[dict]]:
    """The day's slots in two groups, each in time order: where the visitor's language is
    spoken ("spoken"), then those with an interpreter by phone ("interpreter").

    Each: {"value" (local ISO time, as the form posts it), "label", "available"}.
    """
    timezone = service.site.timezone
    groups: dict[str, list[dict]] = {"spoken": [], "interpreter": []}
    for slot in slots(session, service, day, 1, language, now):
        start = opening_words(slot.start, timezone, language)["time"]
        end = opening_words(slot.end, timezone, language)["time"]
        groups["interpreter" if slot.interpreter else "spoken"].append({
            "value": slot.as_dict(timezone)["start"], "label": start, "end": end,
            "available": slot.available > 0})
    return groups


def appointment_facts(appointment, language: str, now: dt.datetime) -> dict:
    """What the holder of the token sees: service, local day and time, state, code, holds."""
    site, timezone = appointment.site, appointment.site.timezone
    text = appointment.service.text(language)
    window = CheckInWindow(current_app.config["CHECK_IN_EARLY_MINUTES"],
                           current_app.config["CHECK_IN_LATE_MINUTES"])
    start = opening_words(appointment.start, timezone, language)
    held = appointment.state == AppointmentState.HELD
    return {
        "token": appointment.token, "code": appointment.code,
        "state": appointment.state.value, "changeable": appointment.state in CHANGEABLE,
        "service": {"key": appointment.service.key, "name": text.name,
                    "what_to_bring": text.what_to_bring},
        "day": start["day"], "time": start["time"],
        "end": opening_words(appointment.end, timezone, language)["time"],
        "hold_until": (opening_words(appointment.hold_expires_at, timezone, language)["time"]
                       if held else None),
        "hold_seconds": (max(int((appointment.hold_expires_at - now).total_seconds()), 0)
                         if held else None),
        "hold_minutes": (math.ceil((appointment.hold_expires_at - now).total_seconds() / 60)
                         if held else None),
        "check_in_from": opening_words(window.opens(appointment), timezone, language)["time"],
        "check_in_until": opening_words(window.closes(appointment), timezone, language)["time"],
        "email": appointment.email or "", "phone": appointment.phone or "",
        "manage_url": manage_url(appointment.token), "site": _site_facts(site, language)}


# Booking ---------------------------------------------------------------------------

@blueprint.get("/book/<site_id>")
def choose_language(site_id):
    """First page: the site's languages, each in its own script; a link that names the
    language (?language=ar, as from a message or a partner's website) skips it."""
    with stores().database.session() as session:
        site = get_site(session, site_id)
        g.language = site.language
        if request.args.get("language") in site.languages:
            return redirect(url_for("booking.choose_service", site_id=site_id,
                                    language=request.args["language"]))
        return render_template("booking/languages.html", site=_site_facts(site, site.language))


@blueprint.get("/book/<site_id>/<language>")
def choose_service(site_id, language):
    """Step 1: the services that take appointments."""
    with stores().database.session() as session:
        site = _visitor_site(session, site_id, language)
        services = session.scalars(select(Service).where(
            Service.site_id == site_id, Service.offered).order_by(Service.position)).all()
        return render_template("booking/services.html", site=_site_facts(site, language),
                               services=[service_entry(service, language)
                                         for service in services
                                         if service.appointment_settings])


def _days_page(session, site, service, language: str, day_link, back_link: str,
               waiting_list_link: str | None, **context) -> str:
    """Step 2, for booking and for moving: the horizon's days, a week at a time."""
    days = day_choices(session, service, language, _now())
    pages = max(math.ceil(len(days) / DAYS_PER_PAGE), 1)
    week = min(max(request.args.get("week", 0, type=int), 0), pages - 1)
    shown = [{**day, "url": day_link(day["day"])}
             for day in days[week * DAYS_PER_PAGE:(week + 1) * DAYS_PER_PAGE]]
    return render_template(
        "booking/days.html", site=_site_facts(site, language),
        service=service_entry(service, language), days=shown, week=week, pages=pages,
        any_free=any(day["free"] for day in days), back_link=back_link,
        waiting_list_link=waiting_list_link, **context)


@blueprint.get("/book/<site_id>/<language>/<service_key>")
def choose_day(site_id, language, service_key):
    """Step 2: the days with free times; the waiting list when none suits."""
    with stores().database.session() as session:
        site = _visitor_site(session, site_id, language)
        service = _bookable_service(session, site_id, service_key)
        return _days_page(
            session, site, service, language,
            lambda day: url_for("booking.choose_time", site_id=site_id, language=language,
                                service_key=service.key, day=day.isoformat()),
            url_for("booking.choose_service", site_id=site_id, language=language),
            url_for("booking.waiting_list", site_id=site_id, language=language,
                    service_key=service.key))


def _times_page(site_id: str, language: str, service_key: str, day_text: str, action: str,
                back_link: str, error: str | None = None, **context) -> str:
    """Step 3, for booking and for moving: the day's times, language first."""
    with stores().database.session() as session:
        site = _visitor_site(session, site_id, language)
        service = _bookable_service(session, site_id, service_key)
        day = _day_of(day_text)
        return render_template(
            "booking/times.html", site=_site_facts(site, language),
            service=service_entry(service, language), day_label=_day_label(day, language),
            times=time_choices(session, service, day, language, _now()), action=action,
            back_link=back_link, error=error, form_key=secrets.token_urlsafe(12), **context)


def _book_times(site_id, language, service_key, day, error=None) -> str:
    return _times_page(
        site_id, language, service_key, day,
        url_for("booking.hold", site_id=site_id, language=language, service_key=service_key,
                day=day),
        url_for("booking.choose_day", site_id=site_id, language=language,
                service_key=service_key), error=error)


@blueprint.get("/book/<site_id>/<language>/<service_key>/<day>")
def choose_time(site_id, language, service_key, day):
    """Step 3: the day's times; the visitor's language first, taken ones not available."""
    return _book_times(site_id, language, service_key, day)


@blueprint.post("/book/<site_id>/<language>/<service_key>/<day>")
@public
def hold(site_id, language, service_key, day):
    """The visitor picked a time: hold it for them while they finish, then ask for contact."""
    with stores().database.session() as session:
        _visitor_site(session, site_id, language)  # refusals below are in this language
    form_key = request.form.get("form_key", "")[:64]
    try:
        with stores().database.session() as session:
            start = _start_of(request.form.get("start"))
            protect_hold()
            # A double tap on one time of one page is one hold, not two.
            key = f"page:{form_key}:{start.isoformat()}" if form_key else None
            token = book(session, site_id, service_key, start, language, None, _now(),
                         hold=True, idempotency_key=key).token
    except TesseraError as error:
        return _book_times(site_id, language, service_key, day, error.message), error.status
    return redirect(url_for("booking.manage", token=token), 303)


# The waiting list ---------------------------------------------------------------------

@blueprint.route("/book/<site_id>/<language>/<service_key>/waiting-list",
                 methods=["GET", "POST"])
@public
def waiting_list(site_id, language, service_key):
    """Join the waiting list for a range of days: told when a place frees."""
    with stores().database.session() as session:
        site = _visitor_site(session, site_id, language)
        service = _bookable_service(session, site_id, service_key)
        today = OpeningHours.of(site).local_day(_now())
        last_day = booking_window(service, _now())[1]
        context = {"site": _site_facts(site, language), "service": service_entry(service, language),
                   "today": today.isoformat(), "last_day": last_day.isoformat()}
    form = {"first_day": request.form.get("first_day", today.isoformat()),
            "last_day": request.form.get("last_day", last_day.isoformat()),
            "email": request.form.get("email", ""), "phone": request.form.get("phone", "")}
    if request.method == "GET":
        return render_template("booking/waiting_list.html", form=form, errors={}, **context)
    contact = {"email": form["email"], "phone": form["phone"]}
    try:
        protect_waiting_list()
        with stores().database.session() as session:
            entry = join(session, site_id, service_key, language, form["first_day"],
                         form["last_day"], contact, _now())
            first, last = entry.first_day, entry.last_day
    except TesseraError as error:
        return render_template("booking/waiting_list.html", form=form,
                               errors=_errors_of(error), **context), error.status
    return render_template("booking/waiting_list_joined.html", form=form,
                           first_label=_day_label(first, language),
                           last_label=_day_label(last, language), **context)


def _errors_of(error: TesseraError) -> dict[str, str]:
    """A refusal by the form field it is about ("form" when it is about none)."""
    return {FIELD_OF_ERROR.get(error.code, "form"): error.message}


# The visitor's appointment ------------------------------------------------------------

def _appointment(session, token: str):
    """The appointment of the token (a lapsed hold ends as expired), in the page's language:
    ?language=, else the one it was booked in."""
    appointment = get_appointment(session, token, _now())
    g.language = check_language(appointment.site,
                                request.args.get("language") or appointment.language)
    return appointment


def _appointment_page(token: str, template: str = "booking/appointment.html",
                      errors: dict | None = None, form: dict | None = None, **context) -> str:
    with stores().database.session() as session:
        appointment = _appointment(session, token)
        facts = appointment_facts(appointment, g.language, _now())
        return render_template(template, appointment=facts, site=facts["site"],
                               errors=errors or {},
                               form=form or {"email": facts["email"], "phone": facts["phone"]},
                               done=request.args.get("done"), language=g.language, **context)


@blueprint.get("/a/<token>")
def manage(token):
    """The appointment: while held, the contact step; once booked, the code, QR code and
    calendar file, with moving and cancelling."""
    return _appointment_page(token)


@blueprint.post("/a/<token>/confirm")
@public
def confirm_hold(token):
    """Step 4 sent: the contact (both optional) checked, the guard passed, the hold booked."""
    contact = {"email": request.form.get("email", ""), "phone": request.form.get("phone", "")}
    try:
        with stores().database.session() as session:
            appointment = _appointment(session, token)
            site_id, guarded = appointment.site_id, _taken_by_visitor(session, appointment)
        if guarded:
            protect_booking(site_id, contact, request.form.get("altcha"))
        with stores().database.session() as session:
            confirm(session, token, _now(), contact=contact)
    except TesseraError as error:
        return _appointment_page(token, errors=_errors_of(error), form=contact), error.status
    return redirect(url_for("booking.manage", token=token, language=g.language,
                            done="booked"), 303)


def _taken_by_visitor(session, appointment) -> bool:
    """Whether confirming this appointment takes a place on the visitor's word, so that the
    guard must pass first: a hold, but not one the waiting list offered (that place was
    given, and its contact already counts against the visitor's cap), and not a second
    tap on a booking already made."""
    if appointment.state != AppointmentState.HELD:
        return False
    return session.scalar(select(WaitingListEntry.id).where(
        WaitingListEntry.appointment_id == appointment.id)) is None


@blueprint.get("/a/<token>/calendar.ics")
def calendar_file(token):
    """The appointment as an .ics file, to add to the phone's calendar."""
    with stores().database.session() as session:
        appointment = _appointment(session, token)
        body = appointment_calendar(appointment, g.language, manage_url(token), _now())
    return Response(body, mimetype="text/calendar",
                    headers={"Content-Disposition": 'attachment; filename="appointment.ics"'})


@blueprint.get("/a/<token>/cancel")
def cancel_question(token):
    """Cancelling asks first: a tap by mistake must not lose the appointment."""
    return _appointment_page(token, "booking/cancel.html")


@blueprint.post("/a/<token>/cancel")
@public
def cancel_appointment(token):
    """The visitor cancels; the place is free again for someone else."""
    try:
        with stores().database.session() as session:
            _appointment(session, token)
            cancel(session, token, _now())
    except TesseraError as error:
        return _appointment_page(token, errors={"form": error.message}), error.status
    return redirect(url_for("booking.manage", token=token, language=g.language,
                            done="cancelled"), 303)


def _changeable(session, token: str):
    appointment = _appointment(session, token)
    if appointment.state not in CHANGEABLE:
        raise NotFound(_("This appointment can no longer be moved."), "not_changeable")
    return appointment


@blueprint.get("/a/<token>/move")
def move_day(token):
    """Moving, step 2: another day of the same service."""
    with stores().database.session() as session:
        appointment = _changeable(session, token)
        return _days_page(
            session, appointment.site, appointment.service, g.language,
            lambda day: url_for("booking.move_time", token=token, day=day.isoformat(),
                                language=g.language),
            url_for("booking.manage", token=token, language=g.language), None, moving=True)


def _move_times(token: str, day: str, error: str | None = None) -> str:
    with stores().database.session() as session:
        appointment = _changeable(session, token)
        site_id, service_key = appointment.site_id, appointment.service.key
    return _times_page(site_id, g.language, service_key, day,
                       url_for("booking.move_to", token=token, day=day, language=g.language),
                       url_for("booking.move_day", token=token, language=g.language),
                       error=error, moving=True)


@blueprint.get("/a/<token>/move/<day>")
def move_time(token, day):
    """Moving, step 3: another time on that day."""
    return _move_times(token, day)


@blueprint.post("/a/<token>/move/<day>")
@public
def move_to(token, day):
    """Move to the chosen time: all or nothing, the code stays the same."""
    with stores().database.session() as session:
        _appointment(session, token)  # refusals below are in the appointment's language
    try:
        with stores().database.session() as session:
            move(session, token, _start_of(request.form.get("start")), _now())
    except TesseraError as error:
        return _move_times(token, day, error.message), error.status
    return redirect(url_for("booking.manage", token=token, language=g.language,
                            done="moved"), 303)
