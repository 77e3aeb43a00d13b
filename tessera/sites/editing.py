"""Editing a site's services, categories and desks from the administration pages.

Each change is one function in the caller's transaction: it checks the permission
(tessera.staff.permissions decides), validates every value (all the mistakes at once,
per field: InvalidInput with `fields`, a map of field name to message, and nothing
changed), applies the change and records its audit entry with the fields before and
after. Values come as a page sends them: text, which these functions read (a number of
minutes, a list of dates), so that the page and a test give the same answers.

The names of the values are those of the form fields: `name_<language>`,
`description_<language>`, `bring_<language>` and `checked_<language>` for the texts of
each site language, and the rest as below. What must reach the live system does: a
desk's duty is updated in Redis by the caller after the commit (`engine.refresh_duty`),
and the engine reads services and their settings from SQL at every issue and call.
"""

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.audit import changed_fields, record_audit
from tessera.errors import Forbidden, InvalidInput, NotFound
from tessera.models import Category, Counter, CounterStatus, Organisation, Service, ServiceText
from tessera.sites.catalogue import get_site
from tessera.sites.hours import WEEKDAYS, parse_interval
from tessera.sites.loader import APPOINTMENT_DEFAULTS, APPOINTMENT_NUMBERS, SLUG
from tessera.sites.retirement import (
    DEFAULT_LATE_MINUTES,
    begin_service_retirement,
    forget_appointment_desk,
    snapshot_counter,
    stranded,
    stranding_refusal,
)
from tessera.staff.permissions import Action, may

# The kiosk's category icons (tessera/templates/icons.html draws them).
CATEGORY_ICONS = ("id-card", "briefcase", "home", "health", "scales", "book", "document",
                  "globe", "info")
TARGET_WAIT_MINUTES = (1, 480)
HANDLING_MINUTES = (0.5, 480)
POSITION = (0, 999)
NAME_LIMIT = 200
TEXT_LIMIT = 1000
DESK_NAME_LIMIT = 100
PREFIX = re.compile(r"[A-Z]")
# One line of appointment hours: "mon: 09:00-12:00; 13:00-16:00 (ar, ti)".
HOURS_LINE = re.compile(r"^\s*(?P<day>[a-z]{3})\s*:(?P<blocks>.*)$")
BLOCK = re.compile(r"^\s*(?P<time>\S+)\s*(?:\((?P<languages>[^)]*)\))?\s*$")


class Problems(dict):
    """The mistakes found in a form's values, by field name; raise() refuses them all."""

    def check(self, field: str, condition: bool, message: str) -> bool:
        """Note `message` for `field` unless `condition` holds (the first per field)."""
        if not condition:
            self.setdefault(field, message)
        return condition

    def refuse(self) -> None:
        """InvalidInput naming every mistake, when there is any."""
        if self:
            raise InvalidInput(next(iter(self.values())), "invalid_input", fields=dict(self))


def _text(values: Mapping, name: str) -> str:
    value = values.get(name)
    return "" if value is None else str(value).strip()


def _flag(values: Mapping, name: str) -> bool:
    return values.get(name) in (True, "y", "on", "true", "1")


def _whole(problems: Problems, values: Mapping, name: str, bounds: tuple, message: str):
    """A whole number within `bounds` read from the field, or None with a problem noted."""
    text = _text(values, name)
    number = int(text) if re.fullmatch(r"-?\d{1,6}", text) else None
    if problems.check(name, number is not None and bounds[0] <= number <= bounds[1], message):
        return number
    return None


def _minutes(problems: Problems, values: Mapping, name: str, bounds: tuple, message: str):
    """A number of minutes (halves allowed) within `bounds`, or None with a problem noted."""
    text = _text(values, name).replace(",", ".")
    number = float(text) if re.fullmatch(r"\d{1,4}(\.\d{1,2})?", text) else None
    if problems.check(name, number is not None and bounds[0] <= number <= bounds[1], message):
        return number
    return None


def _key(problems: Problems, session: Session, model, site_id: str, key: str) -> None:
    """The identifier of a new part: a slug that no other part of that kind has."""
    if problems.check("key", SLUG.match(key) is not None,
                      _("Use lower-case letters, digits, - and _ (up to 64), such as "
                        "'housing-advice'.")):
        problems.check("key", session.scalar(select(model.id).where(
            model.site_id == site_id, model.key == key)) is None,
            _("This identifier is taken (perhaps by a retired one)."))


def _names(problems: Problems, values: Mapping, languages: list[str], site_language: str,
           limit: int) -> dict[str, str]:
    """The names typed per language; the site language's is required."""
    names = {}
    for code in languages:
        name = _text(values, f"name_{code}")
        if code == site_language:
            problems.check(f"name_{code}", bool(name),
                           _("Give the name in the site language."))
        if problems.check(f"name_{code}", len(name) <= limit,
                          _("At most %(count)s characters.", count=limit)) and name:
            names[code] = name
    return names


def _actor_may(actor, action: Action, site_id: str, organisations: Iterable[int] = ()) -> None:
    if not may(actor, action, site_id, list(organisations)):
        raise Forbidden(_("You may not do this here."))


def _to_save(session: Session, model, part, site_id: str, values: Mapping,
             snapshot: Callable, **fields) -> tuple:
    """The part to change and how it was (its snapshot); a new one (None given) is made
    from the values' `key` and `fields`, and has no before."""
    if part is not None:
        return part, snapshot(part)
    part = model(site_id=site_id, key=_text(values, "key"), **fields)
    session.add(part)
    return part, None


def _audit(session: Session, kind: str, part, now: dt.datetime, actor, before: dict | None,
           after: dict) -> None:
    """One audit entry for a change to a service, category or desk; only what changed."""
    if before is not None:
        before, after = changed_fields(before, after)
    record_audit(session, part.site_id, kind, now, actor_id=actor.id,
                 subject={"kind": type(part).__name__.lower(), "id": part.id, "key": part.key},
                 before=before, after=after)


# Services -----------------------------------------------------------------------

def service_snapshot(service: Service) -> dict:
    """A service's settings and texts, as the audit trail keeps them."""
    return {
        "organisation": service.organisation.key if service.organisation else None,
        "category": service.category.key if service.category else None,
        "prefix": service.prefix, "target_wait": service.target_wait_minutes,
        "handling": service.mean_handling_minutes, "walk_in": service.walk_in,
        "by_appointment": service.by_appointment, "position": service.position,
        "appointment_settings": service.appointment_settings,
        "texts": {text.language: {"name": text.name, "description": text.description,
                                  "what_to_bring": text.what_to_bring,
                                  "checked": text.checked}
                  for text in sorted(service.texts, key=lambda text: text.language)},
    }


def service_form_values(service: Service) -> dict:
    """A service's settings as the form shows them (the inverse of what `save_service` reads)."""
    values = {"organisation": str(service.organisation_id),
              "category": str(service.category_id or ""), "prefix": service.prefix,
              "target_wait": str(service.target_wait_minutes),
              "handling": f"{service.mean_handling_minutes:g}", "walk_in": service.walk_in,
              "by_appointment": service.by_appointment, "position": str(service.position)}
    for text in service.texts:
        values.update({f"name_{text.language}": text.name,
                       f"description_{text.language}": text.description,
                       f"bring_{text.language}": text.what_to_bring,
                       f"checked_{text.language}": text.checked})
    settings = service.appointment_settings
    values["slots"] = bool(settings)
    for name, default in {"slot_minutes": 20, **APPOINTMENT_DEFAULTS}.items():
        values[name] = str((settings or {}).get(name, default))
    values["hours"] = format_hours((settings or {}).get("hours", {}))
    values["closed_dates"] = ", ".join((settings or {}).get("closed_dates", []))
    values["desks"] = list((settings or {}).get("desks", []))
    return values


def format_hours(hours: Mapping) -> str:
    """Appointment hours as the form shows them: one line per weekday."""
    lines = []
    for day in WEEKDAYS:
        blocks = [block["time"] + (f" ({', '.join(block['languages'])})"
                                   if block["languages"] else "")
                  for block in hours.get(day, [])]
        if blocks:
            lines.append(f"{day}: {'; '.join(blocks)}")
    return "\n".join(lines)


def parse_hours(problems: Problems, text: str, languages: list[str]) -> dict:
    """Appointment hours from the form's lines ("mon: 09:00-12:00; 13:00-16:00 (ar)")."""
    hours: dict[str, list] = {}
    for line in filter(str.strip, text.splitlines()):
        match = HOURS_LINE.match(line.strip().lower())
        if not problems.check("hours", match is not None and match["day"] in WEEKDAYS,
                              _("Begin each line with a weekday (%(days)s) and a colon: "
                                "%(line)s", days=", ".join(WEEKDAYS), line=line.strip())):
            return {}
        for part in filter(str.strip, match["blocks"].split(";")):
            block = BLOCK.match(part)
            if not problems.check("hours", block is not None
                                  and parse_interval(block["time"]) is not None,
                                  _("'%(block)s' is not a time like 09:00-12:00 (optionally "
                                    "followed by languages in brackets).", block=part.strip())):
                return {}
            spoken = [code.strip() for code in (block["languages"] or "").split(",")
                      if code.strip()]
            if not problems.check("hours", set(spoken) <= set(languages),
                                  _("Languages must be among the site's: %(languages)s.",
                                    languages=", ".join(languages))):
                return {}
            hours.setdefault(match["day"], []).append({"time": block["time"],
                                                       "languages": spoken})
    problems.check("hours", bool(hours), _("Give the hours of at least one weekday."))
    return hours


def _appointment_settings(problems: Problems, values: Mapping, languages: list[str],
                          desks: list[str]) -> dict | None:
    """The normal form of tessera/appointments/availability.py, or None without slots."""
    if not _flag(values, "slots"):
        return None
    settings = {"slot_minutes": _whole(problems, values, "slot_minutes", (5, 480),
                                       _("A whole number of minutes from 5 to 480."))}
    for name, (low, high, _meaning) in APPOINTMENT_NUMBERS.items():
        settings[name] = _whole(problems, values, name, (low, high),
                                _("A whole number from %(low)s to %(high)s.", low=low,
                                  high=high))
    settings["hours"] = parse_hours(problems, _text(values, "hours"), languages)
    dates = [day for day in re.split(r"[\s,;]+", _text(values, "closed_dates")) if day]
    problems.check("closed_dates", all(_is_date(day) for day in dates),
                   _("Give dates like 2026-12-24, separated by commas."))
    settings["closed_dates"] = sorted(set(dates))
    chosen = list(values.get("desks") or [])
    problems.check("desks", set(chosen) <= set(desks),
                   _("Choose desks that serve this service."))
    settings["desks"] = [key for key in desks if key in chosen]
    return settings


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))


def _service_values(session: Session, site, service: Service | None, values: Mapping,
                    problems: Problems) -> dict:
    """Every setting of a service read from the form, with its mistakes noted."""
    organisation = session.get(Organisation, int(_text(values, "organisation") or 0)) \
        if _text(values, "organisation").isdecimal() else None
    problems.check("organisation", organisation is not None
                   and organisation.site_id == site.id, _("Choose an organisation."))
    category = None
    if _text(values, "category"):
        category = session.get(Category, int(_text(values, "category"))) \
            if _text(values, "category").isdecimal() else None
        problems.check("category", category is not None and category.site_id == site.id,
                       _("Choose one of the site's categories."))
    prefix = _text(values, "prefix").upper()
    if problems.check("prefix", PREFIX.fullmatch(prefix) is not None,
                      _("One letter from A to Z: ticket numbers begin with it.")):
        taken = session.scalars(select(Service).where(
            Service.site_id == site.id, Service.prefix == prefix)).first()
        problems.check("prefix", taken is None or taken is service,
                       _("Letter %(prefix)s is used by %(service)s.", prefix=prefix,
                         service=taken.text(site.language).name if taken else ""))
    walk_in, by_appointment = _flag(values, "walk_in"), _flag(values, "by_appointment")
    desks = sorted(counter.key for counter in service_desks(session, service))
    settings = _appointment_settings(problems, values, list(site.languages), desks)
    by_appointment = by_appointment or settings is not None
    problems.check("walk_in", walk_in or by_appointment,
                   _("A service takes walk-in visitors, appointments, or both."))
    names = _names(problems, values, list(site.languages), site.language, NAME_LIMIT)
    texts = {}
    for code in site.languages:
        description, bring = _text(values, f"description_{code}"), _text(values, f"bring_{code}")
        for field, text in ((f"description_{code}", description), (f"bring_{code}", bring)):
            problems.check(field, len(text) <= TEXT_LIMIT,
                           _("At most %(count)s characters.", count=TEXT_LIMIT))
        if code not in names:
            problems.check(f"name_{code}", not (description or bring),
                           _("Give the name in this language too, or leave its texts empty."))
            continue
        texts[code] = {"name": names[code], "description": description,
                       "what_to_bring": bring, "checked": _flag(values, f"checked_{code}")}
    return {
        "organisation": organisation, "category": category, "prefix": prefix,
        "target_wait": _whole(problems, values, "target_wait", TARGET_WAIT_MINUTES,
                              _("A whole number of minutes from %(low)s to %(high)s.",
                                low=TARGET_WAIT_MINUTES[0], high=TARGET_WAIT_MINUTES[1])),
        "handling": _minutes(problems, values, "handling", HANDLING_MINUTES,
                             _("A number of minutes from %(low)s to %(high)s, such as 12 or "
                               "7.5.", low=HANDLING_MINUTES[0], high=HANDLING_MINUTES[1])),
        "position": _whole(problems, values, "position", POSITION,
                           _("A whole number from %(low)s to %(high)s.", low=POSITION[0],
                             high=POSITION[1])),
        "walk_in": walk_in, "by_appointment": by_appointment, "settings": settings,
        "texts": texts,
    }


def service_desks(session: Session, service: Service | None) -> list[Counter]:
    """The active desks that serve a service (none for a new one)."""
    if service is None or service.id is None:
        return []
    return [counter for counter in session.scalars(select(Counter).where(
        Counter.site_id == service.site_id, Counter.active).order_by(Counter.id))
        if service in counter.services]


def save_service(session: Session, actor, site_id: str, service_id: int | None,
                 values: Mapping, now: dt.datetime) -> Service:
    """Create a service (`service_id` None; `key` then names it) or change one.

    An organisation manager may do so only for their organisations' services, and move
    one only between them. Records `service_created` or `service_changed`.
    """
    site = get_site(session, site_id)
    service = None
    if service_id is not None:
        service = session.get(Service, service_id)
        if service is None or service.site_id != site_id or not service.active:
            raise NotFound(_("There is no service %(service)s.", service=service_id))
        _actor_may(actor, Action.MANAGE_SERVICES, site_id, [service.organisation_id])
    problems = Problems()
    if service is None:
        _key(problems, session, Service, site_id, _text(values, "key"))
    read = _service_values(session, site, service, values, problems)
    if read["organisation"] is not None and not may(actor, Action.MANAGE_SERVICES, site_id,
                                                     [read["organisation"].id]):
        problems.check("organisation", False, _("Choose one of your organisations."))
    problems.refuse()
    service, before = _to_save(session, Service, service, site_id, values, service_snapshot)
    service.organisation, service.category = read["organisation"], read["category"]
    service.prefix, service.target_wait_minutes = read["prefix"], read["target_wait"]
    service.mean_handling_minutes, service.position = read["handling"], read["position"]
    service.walk_in, service.by_appointment = read["walk_in"], read["by_appointment"]
    service.appointment_settings = read["settings"]
    existing = {text.language: text for text in service.texts}
    for code, fields in read["texts"].items():
        text = existing.get(code) or ServiceText(language=code)
        text.name, text.description = fields["name"], fields["description"]
        text.what_to_bring, text.checked = fields["what_to_bring"], fields["checked"]
        if code not in existing:
            service.texts.append(text)
    for code, text in existing.items():
        if code not in read["texts"]:
            service.texts.remove(text)
    session.flush()
    _audit(session, "service_created" if before is None else "service_changed", service, now,
           actor, before, service_snapshot(service))
    return service


def begin_retiring(session: Session, actor, service_id: int, now: dt.datetime,
                   late_minutes: int | None = None) -> bool:
    """The page's "Retire": checks the permission, then retirement.begin_service_retirement."""
    service = session.get(Service, service_id, with_for_update=True)
    if service is None or service.site_id != actor.site_id:
        raise NotFound(_("There is no service %(service)s.", service=service_id))
    _actor_may(actor, Action.MANAGE_SERVICES, service.site_id, [service.organisation_id])
    return begin_service_retirement(session, service, now, actor_id=actor.id,
                                    late_minutes=late_minutes or DEFAULT_LATE_MINUTES)


# Categories ---------------------------------------------------------------------

def category_snapshot(category: Category) -> dict:
    """A category as the audit trail keeps it."""
    return {"name": dict(category.name), "unchecked": sorted(category.unchecked_languages),
            "icon": category.icon, "position": category.position,
            "parent": category.parent_id}


def category_form_values(category: Category) -> dict:
    """A category's settings as the form shows them."""
    values = {"icon": category.icon, "position": str(category.position),
              "parent": str(category.parent_id or "")}
    for code, name in category.name.items():
        values[f"name_{code}"] = name
        values[f"checked_{code}"] = code not in category.unchecked_languages
    return values


def _descendants(session: Session, category: Category) -> set[int]:
    everyone = session.scalars(select(Category).where(
        Category.site_id == category.site_id)).all()
    found, frontier = set(), {category.id}
    while frontier:
        frontier = {other.id for other in everyone if other.parent_id in frontier} - found
        found |= frontier
    return found


def save_category(session: Session, actor, site_id: str, category_id: int | None,
                  values: Mapping, now: dt.datetime) -> Category:
    """Create a category (`key` names it) or change one (admin only); records
    `category_created` or `category_changed`."""
    _actor_may(actor, Action.MANAGE_CATEGORIES, site_id)
    site = get_site(session, site_id)
    category = None
    if category_id is not None:
        category = session.get(Category, category_id)
        if category is None or category.site_id != site_id:
            raise NotFound(_("There is no category %(category)s.", category=category_id))
    problems = Problems()
    if category is None:
        _key(problems, session, Category, site_id, _text(values, "key"))
    icon = _text(values, "icon")
    problems.check("icon", icon in CATEGORY_ICONS or (category and icon == category.icon),
                   _("Choose one of the icons."))
    position = _whole(problems, values, "position", POSITION,
                      _("A whole number from %(low)s to %(high)s.", low=POSITION[0],
                        high=POSITION[1]))
    parent = None
    if _text(values, "parent"):
        parent = session.get(Category, int(_text(values, "parent"))) \
            if _text(values, "parent").isdecimal() else None
        if problems.check("parent", parent is not None and parent.site_id == site_id,
                          _("Choose one of the site's categories.")) and category is not None:
            problems.check("parent", parent.id != category.id
                           and parent.id not in _descendants(session, category),
                           _("A category cannot sit inside itself or one of its own."))
    names = _names(problems, values, list(site.languages), site.language, NAME_LIMIT)
    problems.refuse()
    category, before = _to_save(session, Category, category, site_id, values,
                                category_snapshot)
    category.icon, category.position = icon, position
    category.parent_id = parent.id if parent else None
    category.name = names
    category.unchecked_languages = [code for code in names
                                    if not _flag(values, f"checked_{code}")]
    session.flush()
    _audit(session, "category_created" if before is None else "category_changed", category,
           now, actor, before, category_snapshot(category))
    return category


# Desks --------------------------------------------------------------------------

def counter_form_values(counter: Counter) -> dict:
    """A desk's settings as the form shows them."""
    values = {f"name_{code}": name for code, name in counter.name.items()}
    values.update({"zone": counter.zone or "", "languages": list(counter.languages),
                   "services": [str(service.id) for service in counter.services
                                if service.active]})
    return values


def save_counter(session: Session, actor, site_id: str, counter_id: int | None,
                 values: Mapping, now: dt.datetime) -> Counter:
    """Create a desk (`key` names it) or change one (admin only); records `counter_created`
    or `counter_changed`.

    Taking a service off a desk is refused when it is the last desk serving it while
    visitors wait. An open desk keeps calling for the services it still has among those
    its member of staff chose (all of its services if none is left): the caller then
    updates its duty in Redis (`engine.refresh_duty`).
    """
    _actor_may(actor, Action.MANAGE_COUNTERS, site_id)
    site = get_site(session, site_id)
    counter = None
    if counter_id is not None:
        counter = session.get(Counter, counter_id, with_for_update=True)
        if counter is None or counter.site_id != site_id or not counter.active:
            raise NotFound(_("There is no desk %(counter)s.", counter=counter_id))
    problems = Problems()
    if counter is None:
        _key(problems, session, Counter, site_id, _text(values, "key"))
    names = _names(problems, values, list(site.languages), site.language, DESK_NAME_LIMIT)
    zone = _text(values, "zone")
    problems.check("zone", not zone or SLUG.match(zone) is not None,
                   _("Lower-case letters, digits, - and _, such as 'upstairs' (it names a "
                     "hall display's address)."))
    offered = {str(service.id): service for service in session.scalars(select(Service).where(
        Service.site_id == site_id, Service.active))}
    current = {service.id for service in counter.services} if counter else set()
    chosen = [offered[value] for value in dict.fromkeys(map(str, values.get("services") or []))
              if value in offered and (offered[value].offered or offered[value].id in current)]
    problems.check("services", bool(chosen) and len(chosen) == len(set(
        map(str, values.get("services") or []))),
        _("Choose one or more of the services offered at this site."))
    spoken = list(dict.fromkeys(values.get("languages") or []))
    problems.check("languages", set(spoken) <= set(site.languages),
                   _("Choose among the site's languages."))
    if counter is not None and not problems:
        left = stranded(session, site_id, {counter.id: [service.id for service in chosen]})
        if left:
            problems.check("services", False, stranding_refusal(left, site.language).message)
    problems.refuse()
    counter, before = _to_save(session, Counter, counter, site_id, values, snapshot_counter,
                               status=CounterStatus.CLOSED)
    counter.name, counter.zone = names, zone or None
    counter.languages = [code for code in site.languages if code in spoken]
    removed = [service for service in counter.services if service not in chosen]
    counter.services = chosen
    forget_appointment_desk(counter, removed)
    if counter.status != CounterStatus.CLOSED:
        kept = [service_id for service_id in counter.duty_service_ids
                if service_id in {service.id for service in chosen}]
        counter.duty_service_ids = sorted(kept or [service.id for service in chosen])
    session.flush()
    _audit(session, "counter_created" if before is None else "counter_changed", counter, now,
           actor, before, snapshot_counter(counter))
    return counter


def parts_of(session: Session, model, site_id: str,
             keep: Callable[[object], bool] = lambda _part: True) -> list:
    """The site's services, categories or desks in the kiosk's order (position, then id)."""
    order = [model.position, model.id] if hasattr(model, "position") else [model.id]
    return [part for part in session.scalars(select(model).where(model.site_id == site_id)
                                             .order_by(*order)) if keep(part)]
