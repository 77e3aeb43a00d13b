"""GET /sites/<site>/announcements/<language>/<ticket>/<counter>: a call's spoken audio;
GET /tickets/<token>/read-aloud: the kiosk's confirmation, read aloud by the same voices.

Displays and kiosks fetch the WAV of an announcement here. The worker renders it when the
call happens (worker/announcements.py); a file not rendered yet is rendered now, so a display
never waits on the worker. Only tickets of the site, its desks and its languages are
rendered, which bounds what the cache can hold.
"""

from flask import Blueprint, Response, request, send_file
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select

from tessera.errors import NotFound
from tessera.models import Counter, Ticket
from tessera.sites.catalogue import check_language, get_site, translated
from tessera.status.ticket import load_ticket, ticket_status
from tessera.stores import stores
from tessera.voice import Announcement, Settings, render, speak_text, spoken_number

blueprint = Blueprint("announcements", __name__)
# A rendered file never changes (its name holds the voice and the text): displays may keep it.
MAX_AGE_SECONDS = 24 * 3600


def find_announcement(session, site_id: str, language: str, number: str,
                      counter_key: str) -> Announcement:
    """The announcement of `number` at the site's desk `counter_key` in `language`, or 404."""
    site = get_site(session, site_id)
    if language not in site.languages:
        raise NotFound(_("This site does not offer that language."), "unknown_language")
    counter = session.scalars(select(Counter).where(
        Counter.site_id == site_id, Counter.key == counter_key)).first()
    if counter is None:
        raise NotFound(_("There is no such desk at this site."), "unknown_counter")
    if not session.scalar(select(Ticket.id).where(Ticket.site_id == site_id,
                                                  Ticket.number == number).limit(1)):
        raise NotFound(_("There is no such ticket at this site."), "unknown_ticket")
    return Announcement(language, number, counter.key,
                        translated(counter.name, language, site))


@blueprint.get("/sites/<site_id>/announcements/<language>/<ticket>/<counter_key>")
def announcement(site_id, language, ticket, counter_key):
    """The WAV file saying "Ticket A 42, please go to Desk 4" in `language`."""
    with stores().database.session() as session:
        wanted = find_announcement(session, site_id, language, ticket, counter_key)
    path = render(wanted, Settings.from_environment())
    if path is None:
        raise NotFound(_("There is no voice for this language here."), "no_voice")
    return send_file(path, mimetype="audio/wav", max_age=MAX_AGE_SECONDS, conditional=True)


def read_aloud_text(status: dict) -> str:
    """What the kiosk's read-aloud says of a ticket, in the current locale (as its screen)."""
    services = ", ".join(step["service"]["name"] for step in status["journey"])
    parts = [_("Your number is %(number)s.", number=spoken_number(status["number"])),
             f"{services}."]
    if status["position"] is not None:
        parts.append(ngettext("%(num)s person is ahead of you.",
                              "%(num)s people are ahead of you.", status["position"]))
    for step in status["journey"]:
        if step["service"].get("what_to_bring"):
            parts.append(f"{_('Bring:')} {step['service']['what_to_bring']}.")
    return " ".join(parts)


@blueprint.get("/tickets/<token>/read-aloud")
def read_aloud(token):
    """The kiosk's confirmation read aloud (?language=, default the ticket's), as WAV."""
    engine = stores().engine
    ticket = load_ticket(engine, token)
    language = check_language(ticket.site, request.args.get("language") or ticket.language)
    status = ticket_status(engine, ticket, language)
    with force_locale(language):
        text = read_aloud_text(status)
    sound = speak_text(text, language)
    if sound is None:
        raise NotFound(_("There is no voice for this language here."), "no_voice")
    # Private: it says the visitor's place and services; nothing for a shared cache.
    return Response(sound.wav_bytes(), mimetype="audio/wav",
                    headers={"Cache-Control": "private, no-store"})
