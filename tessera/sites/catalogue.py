"""What visitors see of a site, in their language: its services, and the lookups of its parts."""

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tessera.errors import InvalidInput, NotFound
from tessera.languages import direction, language_name
from tessera.models import Category, Device, DeviceKind, Service, Site


def translated(texts: dict, language: str, site: Site) -> str:
    """A text in `language`, else in the site language."""
    return texts.get(language) or texts[site.language]


def get_site(session: Session, site_id: str) -> Site:
    """A site, or NotFound."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(_("There is no site '%(site)s'.", site=site_id))
    return site


def get_kiosk(session: Session, site_id: str, kiosk_key: str) -> Device:
    """An active kiosk of the site, or a 404 that names it."""
    kiosk = session.scalars(select(Device).where(
        Device.site_id == site_id, Device.key == kiosk_key, Device.kind == DeviceKind.KIOSK,
        Device.active)).first()
    if kiosk is None:
        raise NotFound(_("There is no kiosk '%(kiosk)s' at this site.", kiosk=kiosk_key))
    return kiosk


def check_language(site: Site, language: str) -> str:
    """`language` if the site offers it, else a clear refusal."""
    if language not in site.languages:
        raise InvalidInput(_("Language '%(language)s' is not offered at this site. "
                             "Offered: %(offered)s.", language=language,
                             offered=", ".join(site.languages)), "unknown_language")
    return language


def site_languages(site: Site) -> list[dict]:
    """The site's languages, each named in its own script, with its writing direction."""
    return [{"code": code, "name": language_name(code), "direction": direction(code),
             "checked": code not in site.unchecked_translations} for code in site.languages]


def service_entry(service: Service, language: str) -> dict:
    """One service as a visitor reads it."""
    text = service.text(language)
    return {"id": service.id, "key": service.key, "prefix": service.prefix, "name": text.name,
            "description": text.description, "what_to_bring": text.what_to_bring,
            "walk_in": service.walk_in, "by_appointment": service.by_appointment,
            "target_wait_minutes": service.target_wait_minutes,
            "organisation": translated(service.organisation.name, language, service.site)}


def catalogue(session: Session, site_id: str, language: str) -> dict:
    """The site's services grouped by category, in `language`."""
    site = get_site(session, site_id)
    check_language(site, language)
    services = session.scalars(
        select(Service).where(Service.site_id == site_id, Service.offered)
        .options(selectinload(Service.texts), selectinload(Service.organisation))
        .order_by(Service.position)).all()
    categories = session.scalars(select(Category).where(Category.site_id == site_id)
                                 .order_by(Category.position)).all()
    grouped = []
    for category in categories:
        members = [service_entry(s, language) for s in services if s.category_id == category.id]
        if members:
            grouped.append({"key": category.key, "icon": category.icon,
                            "name": translated(category.name, language, site),
                            "parent": next((c.key for c in categories
                                            if c.id == category.parent_id), None),
                            "services": members})
    uncategorised = [service_entry(s, language) for s in services if s.category_id is None]
    if uncategorised:
        grouped.append({"key": "other", "icon": "info", "name": None, "parent": None,
                        "services": uncategorised})
    return {"site": {"id": site.id, "name": translated(site.name, language, site),
                     "language": site.language},
            "language": language, "direction": direction(language),
            "languages": site_languages(site), "categories": grouped}
