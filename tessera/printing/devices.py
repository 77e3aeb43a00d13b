"""Printers: a python-escpos printer from a kiosk's settings, its paper width, its status.

python-escpos is imported inside the functions that use it: importing it
loads its printer database and writes a cache into a new temporary
directory, which an importer of this module (the web app) need not pay for.
"""

import functools
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

# 80 mm paper at 203 dpi: the width when a printer profile does not know its own.
DEFAULT_PAPER_DOTS = 576
# How long a network printer may take to answer a status query (DLE EOT).
STATUS_TIMEOUT_SECONDS = 2


def printer_from_settings(settings: dict):
    """A python-escpos printer for a kiosk's printer settings (SCHEMA.md, `kiosks`).

    Types: file (path), network (host, port 9100, or host "name:port"), usb
    (vendor_id, product_id; numbers or strings such as "0x04b8"), serial (device,
    baudrate), cups (name) and dummy; each may name a python-escpos `profile`.
    The connection opens on first use (or `printer.open()`); nothing is sent here.
    Usb, serial and cups printers need pyusb, pyserial or pycups installed;
    without it this raises RuntimeError naming the package.
    """
    from escpos import printer as escpos_printers

    kind = settings.get("type")
    options = {"profile": _profile(settings.get("profile"))}
    timeout = float(settings.get("timeout", 10))
    if kind == "dummy":
        return escpos_printers.Dummy(**options)
    if kind == "file":
        return _appending_file_class()(devfile=str(settings["path"]), **options)
    if kind == "network":
        host, port = _host_and_port(str(settings["host"]), settings.get("port"))
        return escpos_printers.Network(host=host, port=port, timeout=timeout, **options)
    if kind == "usb":
        _require(escpos_printers.Usb, "pyusb")
        return escpos_printers.Usb(idVendor=_number(settings["vendor_id"]),
                                   idProduct=_number(settings["product_id"]),
                                   timeout=int(timeout * 1000), **options)
    if kind == "serial":
        _require(escpos_printers.Serial, "pyserial")
        return escpos_printers.Serial(devfile=str(settings["device"]),
                                      baudrate=int(settings.get("baudrate", 9600)),
                                      timeout=timeout, **options)
    if kind == "cups":
        _require(escpos_printers.CupsPrinter, "pycups")
        return escpos_printers.CupsPrinter(printer_name=str(settings["name"]), **options)
    raise ValueError(f"Unknown printer type {kind!r}: use file, network, usb, serial, cups "
                     "or dummy")


def _require(printer_class, package: str) -> None:
    # Checked before creating the printer: python-escpos's Usb without pyusb
    # raises again from __del__, where nobody can catch it.
    if not printer_class.is_usable():
        raise RuntimeError(f"A {printer_class.__name__} printer needs the Python package "
                           f"{package}: pip install {package}")


def _profile(name: str | None) -> str | None:
    """A known python-escpos profile name (None: its default); printers take the name."""
    from escpos.capabilities import CAPABILITIES

    if name is not None and name not in CAPABILITIES["profiles"]:
        raise ValueError(f"Unknown python-escpos printer profile {name!r}")
    return name


def _host_and_port(host: str, port) -> tuple[str, int]:
    if port is None and host.count(":") == 1:
        host, port = host.split(":")
    return host, int(port or 9100)


def _number(value) -> int:
    # YAML gives 0x04b8 as an int but "04b8" or "0x04b8" as a string; USB ids are hex.
    return value if isinstance(value, int) else int(str(value), 16)


@functools.cache
def _appending_file_class():
    from escpos.printer import File

    class AppendingFile(File):
        """A file printer that adds to its file, as paper piles up on a real printer.

        python-escpos's File truncates on open, so a second ticket would erase the
        first; appending keeps every ticket (and makes a double print visible).
        """

        def open(self, raise_not_found: bool = True) -> None:
            """Open the file for appending, creating its folder unless it is a device."""
            path = Path(self.devfile)
            # A demo's printer/ folder may not exist yet; a device's directory does.
            if not path.parts or path.parts[:2] != ("/", "dev"):
                path.parent.mkdir(parents=True, exist_ok=True)
            if self._device:
                self.close()
            try:
                self.device = open(path, "ab")  # noqa: SIM115 - closed by close()
            except OSError as error:
                self.device = None
                if raise_not_found:
                    from escpos.exceptions import DeviceNotFoundError

                    raise DeviceNotFoundError(f"Could not open {path}: {error}") from error

    return AppendingFile


def paper_width(printer) -> int:
    """The printable width in dots, from the printer's profile (576 if unknown)."""
    return _media_width(printer.profile.profile_data)


def profile_paper_width(profile: str | None) -> int:
    """The printable width in dots of a python-escpos profile, by name (576 if unknown)."""
    from escpos.capabilities import CAPABILITIES

    return _media_width(CAPABILITIES["profiles"].get(profile or "default", {}))


def _media_width(profile_data: dict) -> int:
    try:
        return int(profile_data["media"]["width"]["pixels"])
    except (KeyError, TypeError, ValueError):
        return DEFAULT_PAPER_DOTS


def printer_problem(printer) -> tuple[str, str] | None:
    """Ask a connected printer whether it can print: None, or (status, message).

    Status is 'paper_out' or 'offline'. Only connections that can read answer
    (network, usb, serial; cups through its queue state); a printer that does
    not answer the status query is taken as ready, since some network printers,
    forwarders and serial lines never answer.
    """
    from escpos.printer import CupsPrinter, Network

    if isinstance(printer, CupsPrinter):
        # python-escpos's paper status misreads CUPS's answer; the queue state is what CUPS knows.
        state = printer.printers.get(printer.printer_name, {}).get("printer-state")
        if state in (None, 5):
            return "offline", f"CUPS queue {printer.printer_name!r} is stopped or missing"
        return None
    if not _can_read(printer):
        return None
    from escpos.constants import RT_MASK_ONLINE, RT_STATUS_ONLINE

    previous_timeout = printer.device.gettimeout() if isinstance(printer, Network) else None
    try:
        if isinstance(printer, Network):
            printer.device.settimeout(STATUS_TIMEOUT_SECONDS)
        if printer.paper_status() == 0:
            return "paper_out", "The printer is out of paper"
        # Not is_online(): it takes a printer that does not answer (a serial line
        # without status) for an offline one, and then nothing would ever print.
        answer = printer.query_status(RT_STATUS_ONLINE)
        if answer and answer[0] & RT_MASK_ONLINE:
            return "offline", "The printer reports that it is offline (cover open or error)"
    except TimeoutError:
        logger.info("Printer did not answer the status query; printing anyway")
    finally:
        if isinstance(printer, Network) and printer.device:
            printer.device.settimeout(previous_timeout)
    return None


def _can_read(printer) -> bool:
    from escpos.printer import Network, Serial, Usb

    return isinstance(printer, Network | Serial | Usb)

