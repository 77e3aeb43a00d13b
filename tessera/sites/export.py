"""The site file of what the database holds: the inverse of tessera/sites/loader.py.

`export_site` writes the format the loader reads (SCHEMA.md), so that loading its
output into an empty database gives the same centre, and exporting that gives the
same file. It writes what a site file can say, and only what is in service: services
offered (not retiring or inactive), desks, kiosks and displays in service. Staff
accounts, secrets, tickets and the live state are not part of a site file.

Each part is written from a field list that mirrors the loader's reading of it. The
service texts are written generically, every column of ServiceText under the name the
loader reads, so a setting added to the texts (and to the loader) travels without a
change here.
"""

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.models import Category, Counter, Device, DeviceKind, Organisation, Service, ServiceText
from tessera.sites.catalogue import get_site

# (file name, Site attribute), in the file's order.
SITE_FIELDS = (
    ("id", "id"), ("name", "name"), ("timezone", "timezone"), ("language", "language"),
    ("languages", "languages"), ("unchecked_translations", "unchecked_translations"),
    ("recall_limit", "recall_limit"), ("opening_hours", "opening_hours"),
    ("closed_dates", "closed_dates"), ("walk_in_stop_minutes", "walk_in_stop_minutes"),
)
CATEGORY_FIELDS = (("icon", "icon"), ("position", "position"), ("name", "name"),
                   ("unchecked", "unchecked_languages"))
SERVICE_FIELDS = (
    ("prefix", "prefix"), ("target_wait", "target_wait_minutes"),
    ("mean_handling", "mean_handling_minutes"), ("walk_in", "walk_in"),
    ("appointment", "by_appointment"), ("position", "position"),
)
COUNTER_FIELDS = (("name", "name"), ("zone", "zone"), ("languages", "languages"))
# A text's columns the file names otherwise; the key and the language are the map's.
TEXT_NAMES = {"what_to_bring": "bring"}
TEXT_NOT_IN_FILE = ("id", "service_id", "language")
DEVICE_SECTIONS = (("kiosks", DeviceKind.KIOSK), ("displays", DeviceKind.DISPLAY))


def _plain(value):
    """A value as YAML writes it plainly: 12.0 minutes as 12, lists and maps copied."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _fields(row, fields) -> dict:
    """The row's attributes under the file's names, leaving out those not set."""
    return {name: _plain(getattr(row, attribute)) for name, attribute in fields
            if getattr(row, attribute) is not None}


def _texts(service: Service) -> dict:
    """A service's texts by language: every column, as the loader names it."""
    columns = [column.key for column in ServiceText.__table__.columns
               if column.key not in TEXT_NOT_IN_FILE]
    return {text.language: {TEXT_NAMES.get(column, column): _plain(getattr(text, column))
                            for column in columns}
            for text in sorted(service.texts, key=lambda text: text.id)}


def site_document(session: Session, site_id: str) -> dict:
    """The site file of `site_id` as a map, in the loader's format."""
    site = get_site(session, site_id)

    def rows(model, *where, options=()):
        return session.scalars(select(model).where(model.site_id == site_id, *where)
                               .options(*options).order_by(model.id)).all()

    document = _fields(site, SITE_FIELDS)
    document["organisations"] = {organisation.key: {"name": organisation.name}
                                 for organisation in rows(Organisation)}
    categories = rows(Category)
    keys = {category.id: category.key for category in categories}
    if categories:
        document["categories"] = {
            category.key: {**_fields(category, CATEGORY_FIELDS),
                           **({"parent": keys[category.parent_id]}
                              if category.parent_id else {})}
            for category in categories}
    services = rows(Service, Service.offered, options=(
        selectinload(Service.texts), selectinload(Service.organisation),
        selectinload(Service.category)))
    document["services"] = {service.key: _service(service) for service in services}
    offered = {service.id for service in services}
    counters = {}
    for counter in rows(Counter, Counter.active, options=(selectinload(Counter.services),)):
        served = [service.key for service in counter.services if service.id in offered]
        if served:  # a desk that serves only retiring services goes with them
            counters[counter.key] = {**_fields(counter, COUNTER_FIELDS), "services": served}
    if counters:
        document["counters"] = counters
    for section, kind in DEVICE_SECTIONS:
        devices = rows(Device, Device.kind == kind, Device.active)
        if devices:
            # Settings only (a name, a kiosk's printer): never a secret or a pairing code.
            document[section] = {device.key: _plain(dict(device.settings or {}))
                                 for device in devices}
    return document


def _service(service: Service) -> dict:
    entry = {"organisation": service.organisation.key}
    if service.category is not None:
        entry["category"] = service.category.key
    entry.update(_fields(service, SERVICE_FIELDS))
    if service.appointment_settings is not None:
        entry["appointments"] = _plain(service.appointment_settings)
    entry["text"] = _texts(service)
    return entry


def export_site(session: Session, site_id: str) -> str:
    """The site file of `site_id` as YAML text, ready for `load-site`."""
    header = (f"# Site file of '{site_id}', written by python -m tessera export-site.\n"
              "# Format: tessera/sites/SCHEMA.md. Staff accounts and device secrets are "
              "not in it.\n")
    return header + yaml.safe_dump(site_document(session, site_id), allow_unicode=True,
                                   sort_keys=False, default_flow_style=False, width=100)
