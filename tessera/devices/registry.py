"""The site's devices as an admin keeps them: register, rename, choose a kiosk's printer,
revoke, put back in service; and the list with each device's last contact and printer.

Each change is validated first and recorded in the audit trail in the caller's
transaction. A device's name and a kiosk's printer live in its settings, as the site
file has them (SCHEMA.md, `kiosks` and `displays`), so that export-site carries them.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import PurePosixPath

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from tessera.audit import changed_fields, record_audit
from tessera.devices.pairing import device_subject, get_device
from tessera.errors import Conflict, InvalidInput
from tessera.models import Device, DeviceKind
from tessera.sites.loader import PRINTER_SETTINGS, SLUG

NAME_LENGTH = 100
# Every setting a printer may have, by type: the required ones (the loader's), then the
# optional ones. Whole numbers are checked as such.
OPTIONAL_PRINTER_SETTINGS = {
    "file": ("preview",), "network": ("port",), "usb": (), "serial": ("baudrate",),
    "cups": (), "dummy": (),
}
WHOLE_NUMBERS = {"port": (1, 65535), "baudrate": (300, 921600)}
HEX_NUMBERS = ("vendor_id", "product_id")


@dataclass(frozen=True)
class DeviceRow:
    """One device as /admin/devices lists it."""

    key: str
    name: str
    kind: DeviceKind
    active: bool
    paired_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    printer: dict
    # The kiosk printer's last status (LiveState.printer_statuses), or None if unknown.
    printer_status: dict | None

    @property
    def paired(self) -> bool:
        """Whether the device holds a secret (set by pairing, cleared by revoking)."""
        return self.paired_at is not None


def list_devices(session: Session, site_id: str, printer_statuses: dict) -> list[DeviceRow]:
    """The site's devices, kiosks first, then by key, with their printers' statuses."""
    devices = session.scalars(select(Device).where(Device.site_id == site_id)).all()
    return [DeviceRow(key=device.key, name=device_name(device), kind=device.kind,
                      active=device.active,
                      paired_at=device.paired_at if device.secret_hash else None,
                      last_seen_at=device.last_seen_at,
                      printer=dict((device.settings or {}).get("printer") or {}),
                      printer_status=printer_statuses.get(device.key)
                      if device.kind == DeviceKind.KIOSK else None)
            for device in sorted(devices, key=lambda d: (d.kind != DeviceKind.KIOSK, d.key))]


def device_name(device: Device) -> str:
    """A device's name (its key when it has none, as a site file may leave it)."""
    name = (device.settings or {}).get("name")
    return name if isinstance(name, str) and name else device.key


def _check_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > NAME_LENGTH:
        raise InvalidInput(_("Give the device a name of 1 to %(length)s characters.",
                             length=NAME_LENGTH), "invalid_name", field="name")
    return name


def printer_settings(values: dict) -> dict:
    """A kiosk's printer settings from a form's values ({"type": ..., setting: text}), as
    stored and as the site file has them; {} for no printer.

    Raises InvalidInput naming the `field` at fault. A file printer set here writes
    inside the instance directory (or to a device under /dev): an admin page must not
    be a way to append to any file the worker can write.
    """
    kind = (values.get("type") or "").strip()
    if not kind:
        return {}
    if kind not in PRINTER_SETTINGS:
        raise InvalidInput(_("Choose a printer type among %(types)s.",
                             types=", ".join(PRINTER_SETTINGS)), "invalid_printer",
                           field="printer.type")
    settings = {"type": kind}
    for name in PRINTER_SETTINGS[kind] + OPTIONAL_PRINTER_SETTINGS[kind]:
        value = values.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, "", False):
            if name in PRINTER_SETTINGS[kind]:
                raise InvalidInput(_("A %(type)s printer needs this setting.", type=kind),
                                   "invalid_printer", field=f"printer.{name}")
            continue
        settings[name] = _printer_value(name, value)
    profile = (values.get("profile") or "").strip()
    if profile:
        from escpos.capabilities import CAPABILITIES  # slow to import: only when needed

        if profile not in CAPABILITIES["profiles"]:
            raise InvalidInput(_("'%(profile)s' is not a printer profile python-escpos "
                                 "knows, such as TM-T88III.", profile=profile),
                               "invalid_printer", field="printer.profile")
        settings["profile"] = profile
    return settings


def _printer_value(name: str, value):
    """One printer setting, checked: a number for numbers, a safe path for a file."""
    if name == "preview":
        return True
    if name in WHOLE_NUMBERS:
        low, high = WHOLE_NUMBERS[name]
        if not (str(value).isdecimal() and low <= int(value) <= high):
            raise InvalidInput(_("Give a whole number from %(low)s to %(high)s.", low=low,
                                 high=high), "invalid_printer", field=f"printer.{name}")
        return int(value)
    if name in HEX_NUMBERS:
        try:
            int(str(value), 16)
        except ValueError:
            raise InvalidInput(_("Give the USB id in hexadecimal, such as 0x04b8."),
                               "invalid_printer", field=f"printer.{name}") from None
        return str(value)
    if name == "path":
        path = PurePosixPath(str(value))
        inside = not path.is_absolute() and ".." not in path.parts
        if not (inside or (path.parts[:2] == ("/", "dev") and ".." not in path.parts)):
            raise InvalidInput(_("Give a path inside the instance folder, such as "
                                 "printer/entrance.bin, or a printer device under /dev."),
                               "invalid_printer", field=f"printer.{name}")
        return str(path)
    if len(str(value)) > 200:
        raise InvalidInput(_("This setting is too long."), "invalid_printer",
                           field=f"printer.{name}")
    return str(value)


def register_device(session: Session, site_id: str, key: str, name: str, kind: str,
                    printer: dict, now: dt.datetime, actor_id: int | None) -> Device:
    """Register a kiosk or a hall display (not paired yet); a display has no printer."""
    key = (key or "").strip()
    if SLUG.match(key) is None:
        raise InvalidInput(_("A key has lower-case letters, digits, - and _, such as "
                             "entrance."), "invalid_key", field="key")
    if kind not in tuple(DeviceKind):
        raise InvalidInput(_("Choose a kiosk or a display."), "invalid_kind", field="kind")
    settings = {"name": _check_name(name)}
    if kind == DeviceKind.KIOSK and printer:
        settings["printer"] = printer
    if session.scalars(select(Device.id).where(Device.site_id == site_id,
                                               Device.key == key)).first() is not None:
        raise Conflict(_("There is already a device '%(key)s' at this site.", key=key),
                       "device_exists", field="key")
    device = Device(site_id=site_id, key=key, kind=DeviceKind(kind), settings=settings,
                    active=True)
    session.add(device)
    session.flush()
    record_audit(session, site_id, "device_registered", now, actor_id=actor_id,
                 subject=device_subject(device), after=_snapshot(device))
    return device


def change_device(session: Session, site_id: str, key: str, name: str, printer: dict | None,
                  now: dt.datetime, actor_id: int | None) -> Device:
    """Rename a device and, for a kiosk, set its printer (None: keep it; {}: none)."""
    device = get_device(session, site_id, key)
    before = _snapshot(device)
    settings = {**(device.settings or {}), "name": _check_name(name)}
    if device.kind == DeviceKind.KIOSK and printer is not None:
        settings.pop("printer", None)
        if printer:
            settings["printer"] = printer
    device.settings = settings
    session.flush()
    old, new = changed_fields(before, _snapshot(device))
    if new:
        record_audit(session, site_id, "device_changed", now, actor_id=actor_id,
                     subject=device_subject(device), before=old, after=new)
    return device


def revoke_device(session: Session, site_id: str, key: str, now: dt.datetime,
                  actor_id: int | None) -> Device:
    """Take a device out of service: its secret and any pairing code stop working at once.

    A revoked kiosk is no kiosk any more (its pages and its tickets are refused); a
    revoked display shows the pairing screen again. It stays registered, so the audit
    trail and its history keep its name, and it can be put back in service and paired.
    """
    device = get_device(session, site_id, key)
    if not device.active:
        raise Conflict(_("This device is revoked already."), "device_revoked")
    device.active = False
    device.secret_hash = None
    device.paired_at = None
    device.pairing_code_hash = None
    device.pairing_expires_at = None
    session.flush()
    record_audit(session, site_id, "device_revoked", now, actor_id=actor_id,
                 subject=device_subject(device))
    return device


def reinstate_device(session: Session, site_id: str, key: str, now: dt.datetime,
                     actor_id: int | None) -> Device:
    """Put a revoked device back in service, unpaired: it shows a pairing code again."""
    device = get_device(session, site_id, key)
    if device.active:
        raise Conflict(_("This device is in service already."), "device_active")
    device.active = True
    session.flush()
    record_audit(session, site_id, "device_changed", now, actor_id=actor_id,
                 subject=device_subject(device), before={"active": False},
                 after={"active": True})
    return device


def _snapshot(device: Device) -> dict:
    """The fields an audit entry shows of a device (never its secret)."""
    settings = device.settings or {}
    return {"name": settings.get("name"), "kind": str(device.kind),
            "printer": settings.get("printer")}
