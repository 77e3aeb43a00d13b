"""Site configuration as data: load a YAML description of a centre into SQL.

Loading is idempotent: it creates what is new, updates what changed, and
retires safely the services and counters the file no longer names
(tessera/sites/retirement.py; tickets still refer to them, so nothing is deleted).
The format is described in tessera/sites/SCHEMA.md.
"""

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.clock import utc_now
from tessera.errors import Conflict
from tessera.models import (
    Category,
    Counter,
    Device,
    DeviceKind,
    Organisation,
    Service,
    ServiceText,
    Site,
)
from tessera.sites.hours import WEEKDAYS, parse_interval
from tessera.sites.retirement import (
    begin_service_retirement,
    removed_counters,
    retire_idle_counter,
    stranded,
)

DEMO_SITE = Path(__file__).parent / "demo.yaml"
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Each kind of ticket printer and the settings it cannot do without.
PRINTER_SETTINGS = {
    "file": ("path",),
    "network": ("host",),
    "usb": ("vendor_id", "product_id"),
    "serial": ("device",),
    "cups": ("name",),
    "dummy": (),
}


# A service's `appointments:` numbers: (lowest, highest, what they count), and their defaults.
APPOINTMENT_NUMBERS = {
    "places": (1, 100, "visitors per slot"),
    "horizon_days": (1, 365, "days"),
    "notice_minutes": (0, 10080, "minutes"),
    "hold_minutes": (1, 60, "minutes"),
}
APPOINTMENT_DEFAULTS = {"places": 1, "horizon_days": 30, "notice_minutes": 60, "hold_minutes": 10}
APPOINTMENT_SETTINGS = ("slot_minutes", *APPOINTMENT_NUMBERS, "hours", "closed_dates", "desks")


class SiteFileError(ValueError):
    """The site file is not valid; the message says where and why."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SiteFileError(message)


def _texts(value, where: str, site_language: str) -> dict:
    _require(isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
             f"{where}: expected a map of language to text")
    _require(site_language in value, f"{where}: the site language '{site_language}' is missing")
    return dict(value)


def _section(document: dict, name: str) -> dict:
    section = document.get(name) or {}
    _require(isinstance(section, dict), f"'{name}' must be a map of id to settings")
    for key in section:
        _require(isinstance(key, str) and SLUG.match(key) is not None,
                 f"{name}: '{key}' is not a valid id (lower-case letters, digits, - and _)")
        _require(isinstance(section[key], dict), f"{name}.{key}: expected a map of settings")
    return section


def _check_hours(document: dict) -> None:
    hours = document.get("opening_hours") or {}
    _require(isinstance(hours, dict) and set(hours) <= set(WEEKDAYS),
             f"'opening_hours' keys must be among {', '.join(WEEKDAYS)}")
    for day, spans in hours.items():
        _require(isinstance(spans, list) and all(
            isinstance(s, str) and parse_interval(s) is not None for s in spans),
            f"opening_hours.{day}: expected a list of intervals like "
            f"[\"09:00-12:30\", \"13:30-17:00\"] (an end of 24:00 is midnight)")
    closed = document.get("closed_dates") or []
    _require(isinstance(closed, list) and all(_is_date(day) for day in closed),
             "'closed_dates' must be a list of dates like \"2026-12-25\"")
    stop = document.get("walk_in_stop_minutes", 0)
    _require(isinstance(stop, int) and not isinstance(stop, bool) and 0 <= stop <= 240,
             "'walk_in_stop_minutes' must be a whole number of minutes from 0 to 240")


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_appointments(where: str, settings, languages: list, desks: list) -> None:
    """A service's `appointments:` settings (SCHEMA.md, "Appointments")."""
    where = f"{where}.appointments"
    _require(isinstance(settings, dict), f"{where}: expected a map of settings")
    unknown = set(settings) - set(APPOINTMENT_SETTINGS)
    _require(not unknown, f"{where}: unknown setting(s) {', '.join(sorted(map(str, unknown)))}; "
                          f"known: {', '.join(APPOINTMENT_SETTINGS)}")
    _require(_whole(settings.get("slot_minutes"), 5, 480),
             f"{where}: 'slot_minutes' must be a whole number of minutes from 5 to 480")
    for name, (low, high, meaning) in APPOINTMENT_NUMBERS.items():
        _require(name not in settings or _whole(settings[name], low, high),
                 f"{where}: '{name}' must be a whole number of {meaning} from {low} to {high}")
    hours = settings.get("hours")
    _require(isinstance(hours, dict) and hours and set(hours) <= set(WEEKDAYS),
             f"{where}: 'hours' must map weekdays (among {', '.join(WEEKDAYS)}) to intervals")
    for day, blocks in hours.items():
        _require(isinstance(blocks, list),
                 f"{where}.hours.{day}: expected a list of intervals like \"09:00-12:00\" or "
                 "{time: \"09:00-12:00\", languages: [ar, en]}")
        for block in blocks:
            time = block.get("time") if isinstance(block, dict) else block
            _require(isinstance(time, str) and parse_interval(time) is not None,
                     f"{where}.hours.{day}: {time!r} is not an interval like \"09:00-12:00\" "
                     "(an end of 24:00 is midnight)")
            spoken = block.get("languages", []) if isinstance(block, dict) else []
            _require(isinstance(spoken, list) and set(spoken) <= set(languages),
                     f"{where}.hours.{day}: 'languages' must be among the site's languages")
            _require(not isinstance(block, dict) or set(block) <= {"time", "languages"},
                     f"{where}.hours.{day}: a block has only 'time' and 'languages'")
    closed = settings.get("closed_dates") or []
    _require(isinstance(closed, list) and all(_is_date(day) for day in closed),
             f"{where}: 'closed_dates' must be a list of dates like \"2026-12-24\"")
    kept = settings.get("desks") or []
    _require(isinstance(kept, list) and set(kept) <= set(desks),
             f"{where}: 'desks' must list counters of this site that serve this service")


def _appointment_settings(settings: dict | None) -> dict | None:
    """The settings as stored: defaults filled in, every block a {time, languages} map."""
    if settings is None:
        return None
    stored = {name: settings.get(name, default)
              for name, default in APPOINTMENT_DEFAULTS.items()}
    stored["slot_minutes"] = settings["slot_minutes"]
    stored["hours"] = {day: [{"time": block, "languages": []} if isinstance(block, str)
                             else {"time": block["time"],
                                   "languages": list(block.get("languages", []))}
                             for block in blocks]
                       for day, blocks in settings["hours"].items()}
    stored["closed_dates"] = sorted(str(day) for day in settings.get("closed_dates") or [])
    stored["desks"] = list(settings.get("desks") or [])
    return stored


def _is_date(value) -> bool:
    if isinstance(value, dt.date):
        return True  # YAML reads an unquoted 2026-12-25 as a date
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def read_site_file(path: str | Path) -> dict:
    """Parse and validate a site file; raises SiteFileError with a clear message."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise SiteFileError(f"Cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise SiteFileError(f"{path} is not valid YAML: {error}") from error
    _require(isinstance(document, dict), "A site file must be a YAML map")
    site_id = document.get("id")
    _require(isinstance(site_id, str) and SLUG.match(site_id) is not None,
             "'id' must be a short lower-case slug, such as 'demo'")
    try:
        ZoneInfo(str(document.get("timezone")))
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise SiteFileError(f"'timezone' is not a known IANA zone: "
                            f"{document.get('timezone')!r}") from error
    language = document.get("language")
    languages = document.get("languages") or []
    _require(isinstance(languages, list) and language in languages,
             "'languages' must be a list that includes the site 'language'")
    _texts(document.get("name"), "name", language)
    _require(isinstance(document.get("recall_limit", 2), int), "'recall_limit' must be a number")
    _check_hours(document)

    organisations = _section(document, "organisations")
    for key, organisation in organisations.items():
        _texts(organisation.get("name"), f"organisations.{key}.name", language)
    categories = _section(document, "categories")
    for key, category in categories.items():
        _texts(category.get("name"), f"categories.{key}.name", language)
        _require(isinstance(category.get("icon"), str), f"categories.{key}: 'icon' is missing")
        parent = category.get("parent")
        _require(parent is None or parent in categories,
                 f"categories.{key}: unknown parent '{parent}'")
        unchecked = category.get("unchecked", [])
        _require(isinstance(unchecked, list) and set(unchecked) <= set(category["name"]),
                 f"categories.{key}: 'unchecked' must list languages of its name")
    services = _section(document, "services")
    _require(services, "A site needs at least one service")
    prefixes = set()
    for key, service in services.items():
        where = f"services.{key}"
        _require(service.get("organisation") in organisations,
                 f"{where}: unknown organisation '{service.get('organisation')}'")
        _require(service.get("category") is None or service.get("category") in categories,
                 f"{where}: unknown category '{service.get('category')}'")
        prefix = service.get("prefix")
        _require(isinstance(prefix, str) and re.fullmatch(r"[A-Z]", prefix) is not None,
                 f"{where}: 'prefix' must be one upper-case letter")
        _require(prefix not in prefixes, f"{where}: prefix '{prefix}' is used twice")
        prefixes.add(prefix)
        for number in ("target_wait", "mean_handling"):
            value = service.get(number)
            _require(isinstance(value, int | float) and value > 0,
                     f"{where}: '{number}' must be a positive number of minutes")
        text = service.get("text") or {}
        _require(isinstance(text, dict) and language in text,
                 f"{where}: 'text' needs the site language '{language}'")
        for text_language, fields in text.items():
            _require(text_language in languages,
                     f"{where}.text: '{text_language}' is not one of the site's languages")
            _require(isinstance(fields, dict) and isinstance(fields.get("name"), str),
                     f"{where}.text.{text_language}: 'name' is missing")
            _require(isinstance(fields.get("checked", True), bool),
                     f"{where}.text.{text_language}: 'checked' must be true or false")
    counters = _section(document, "counters")
    for key, counter in counters.items():
        where = f"counters.{key}"
        _texts(counter.get("name"), f"{where}.name", language)
        served = counter.get("services") or []
        _require(isinstance(served, list) and served and all(s in services for s in served),
                 f"{where}: 'services' must list services of this site")
        spoken = counter.get("languages") or []
        _require(isinstance(spoken, list) and set(spoken) <= set(languages),
                 f"{where}: 'languages' must be among the site's languages")
        zone = counter.get("zone")
        # A zone names a hall display's address and live room: /display/<site>/<zone>.
        _require(zone is None or (isinstance(zone, str) and SLUG.match(zone) is not None),
                 f"{where}: 'zone' must be lower-case letters, digits, '-' or '_', "
                 "such as 'upstairs'")
    for key, service in services.items():
        if "appointments" in service:
            _check_appointments(f"services.{key}", service["appointments"], languages,
                                [c for c, counter in counters.items()
                                 if key in (counter.get("services") or [])])
    for key, kiosk in _section(document, "kiosks").items():
        printer = kiosk.get("printer")
        if printer is None:
            continue
        _require(isinstance(printer, dict) and printer.get("type") in PRINTER_SETTINGS,
                 f"kiosks.{key}.printer: 'type' must be one of {', '.join(PRINTER_SETTINGS)}")
        for setting in PRINTER_SETTINGS[printer["type"]]:
            _require(setting in printer, f"kiosks.{key}.printer: '{setting}' is missing for a "
                                         f"{printer['type']} printer")
    _check_devices(document)
    return document


def _check_devices(document: dict) -> None:
    """Kiosks and hall displays: a name, if any, is text; a key names one device only."""
    devices = {"kiosks": _section(document, "kiosks"), "displays": _section(document, "displays")}
    for section, entries in devices.items():
        for key, data in entries.items():
            _require(isinstance(data.get("name", ""), str),
                     f"{section}.{key}: 'name' must be a text, such as \"Entrance\"")
    both = set(devices["kiosks"]) & set(devices["displays"])
    _require(not both, f"{', '.join(sorted(both))}: a key names one device, a kiosk or a display")


def _served_after(counter: Counter, data: dict | None, services: dict) -> list[Service]:
    """The services a desk serves after loading: those the file lists (none if the file
    drops the desk), and the retiring ones it served, so their visitors are still called."""
    if data is None:
        return []
    listed = [services[key] for key in data["services"]]
    return listed + [service for service in counter.services
                     if service.retiring and service not in listed]


def load_site(session: Session, document: dict, now: dt.datetime | None = None) -> Site:
    """Create or update a site from a validated document, in the caller's transaction.

    What the file no longer names retires safely (tessera/sites/retirement.py): a service
    starts retiring (its waiting visitors are still served, by the desks that served it);
    a desk that is closed and holds nobody becomes inactive. A desk still on duty is left
    for `retirement.load_site_safely` (what `load-site` runs) to close through the engine.
    Refused (SiteFileError, nothing changed) when the change would leave waiting visitors
    with no desk, or drop a service whose appointments are still booked.
    """
    now = now or utc_now()
    site = session.get(Site, document["id"]) or Site(id=document["id"])
    site.name = document["name"]
    site.timezone = document["timezone"]
    site.language = document["language"]
    site.languages = list(document["languages"])
    site.unchecked_translations = list(document.get("unchecked_translations") or [])
    site.opening_hours = document.get("opening_hours") or {}
    site.closed_dates = sorted(str(day) for day in document.get("closed_dates") or [])
    site.walk_in_stop_minutes = document.get("walk_in_stop_minutes", 0)
    site.recall_limit = document.get("recall_limit", 2)
    session.add(site)
    session.flush()

    def existing(model) -> dict:
        return {row.key: row for row in session.scalars(
            select(model).where(model.site_id == site.id))}

    organisations = existing(Organisation)
    for key, data in document["organisations"].items():
        organisation = organisations.get(key) or Organisation(site_id=site.id, key=key)
        organisation.name = data["name"]
        session.add(organisation)
        organisations[key] = organisation

    categories = existing(Category)
    for key, data in (document.get("categories") or {}).items():
        category = categories.get(key) or Category(site_id=site.id, key=key)
        category.icon = data["icon"]
        category.position = data.get("position", 0)
        category.name = data["name"]
        category.unchecked_languages = list(data.get("unchecked", [
            code for code in data["name"] if code in site.unchecked_translations]))
        session.add(category)
        categories[key] = category
    session.flush()
    for key, data in (document.get("categories") or {}).items():
        parent = data.get("parent")
        categories[key].parent_id = categories[parent].id if parent else None

    services = existing(Service)
    # Prefixes are unique per site; free them first so services may swap letters.
    for service in services.values():
        service.prefix = f"~{service.id}"
    session.flush()
    for key, data in document["services"].items():
        service = services.get(key) or Service(site_id=site.id, key=key)
        service.organisation = organisations[data["organisation"]]
        service.category = categories.get(data.get("category"))
        service.prefix = data["prefix"]
        service.target_wait_minutes = data["target_wait"]
        service.mean_handling_minutes = float(data["mean_handling"])
        service.walk_in = data.get("walk_in", True)
        service.by_appointment = data.get("appointment", "appointments" in data)
        service.appointment_settings = _appointment_settings(data.get("appointments"))
        service.position = data.get("position", 0)
        service.active, service.retiring = True, False  # named again: offered again
        texts = {text.language: text for text in service.texts}
        for language, fields in data["text"].items():
            text = texts.get(language) or ServiceText(language=language)
            text.name = fields["name"]
            text.description = fields.get("description", "")
            text.what_to_bring = fields.get("bring", "")
            text.checked = fields.get("checked", language not in site.unchecked_translations)
            if language not in texts:
                service.texts.append(text)
        for language, text in texts.items():
            if language not in data["text"]:
                service.texts.remove(text)
        session.add(service)
        services[key] = service
    session.flush()
    for key, service in services.items():
        if key not in document["services"] and service.offered:
            try:
                begin_service_retirement(session, service, now, actor_id=None, via="site_file")
            except Conflict as refusal:
                raise SiteFileError(f"services.{key} is removed: {refusal.message}") from None

    counters = existing(Counter)
    listed = document.get("counters") or {}
    serving = {counter.id: _served_after(counter, listed.get(key), services)
               for key, counter in counters.items()}
    left_alone = stranded(session, site.id, {counter_id: [s.id for s in served]
                                             for counter_id, served in serving.items()})
    if left_alone:
        raise SiteFileError("this file leaves waiting visitors with no desk: " + ", ".join(
            f"{service.key} ({count} waiting)" for service, count in left_alone)
            + "; keep a desk serving it until they are served")
    for key, data in listed.items():
        counter = counters.get(key) or Counter(site_id=site.id, key=key)
        counter.name = data["name"]
        counter.zone = data.get("zone")
        counter.languages = list(data.get("languages") or [])
        counter.services = serving.get(counter.id) or [services[s] for s in data["services"]]
        counter.active = True
        session.add(counter)
    for counter in removed_counters(session, site.id, listed):
        retire_idle_counter(session, counter, now)

    for section, kind in (("kiosks", DeviceKind.KIOSK), ("displays", DeviceKind.DISPLAY)):
        _load_devices(session, site, kind, document.get(section) or {})
    session.flush()
    return site


def _load_devices(session: Session, site: Site, kind: DeviceKind, listed: dict) -> None:
    """The kiosks or the displays: settings as the file has them (a name, a kiosk's
    printer); those it no longer names go out of service. A secret is never in a file."""
    devices = {device.key: device for device in session.scalars(
        select(Device).where(Device.site_id == site.id, Device.kind == kind))}
    for key, data in listed.items():
        device = devices.get(key) or Device(site_id=site.id, key=key, kind=kind)
        device.settings = dict(data)
        device.active = True
        session.add(device)
    for key, device in devices.items():
        if key not in listed:
            device.active = False
